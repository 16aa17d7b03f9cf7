#!/bin/sh
# goavail package: make systemd see the unit. Nothing is enabled or
# started: edit /etc/goavail/goavail.toml, then systemctl enable --now goavail.
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
	if systemctl is-active --quiet goavail; then
		systemctl try-restart goavail || true
	fi
fi
exit 0
