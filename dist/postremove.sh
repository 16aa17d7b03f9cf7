#!/bin/sh
# goavail package: on a purge (deb: "purge"), remove the secrets the
# operator put in /etc/goavail/credentials (the API token, the drain API
# token, the cluster key): a purged package leaves no credential behind.
# A plain remove or an upgrade keeps them, as it keeps the config. rpm has
# no purge: remove the directory by hand after rpm -e.
set -e
dir=${GOAVAIL_CREDENTIALS_DIR:-/etc/goavail/credentials} # tests point it elsewhere
case "$1" in
purge)
	rm -rf "$dir"
	rmdir "$(dirname "$dir")" 2>/dev/null || true # /etc/goavail, once empty
	;;
esac
exit 0
