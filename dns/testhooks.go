package dns

import (
	"os"
	"time"
)

// Test-only hooks for the chaos suite (cmd/goavail/chaos_e2e_test.go and
// internal/chaos). Each makes the agent less safe on purpose, to show what
// the suite catches; they are read from the environment where they act,
// and no operator should ever set them.
const (
	// TestPauseBeforeSendEnv (a Go duration) pauses every batch for that
	// long right after its last lease check and before it is sent: the
	// writer's pause the fence must make harmless.
	TestPauseBeforeSendEnv = "GOAVAIL_TEST_PAUSE_BEFORE_SEND"
	// TestSkipLeaseCheckEnv ("1") skips the lease check before each batch
	// and sends it under a context the lease's end does not cancel, so a
	// writer that lost its lease after listing still writes.
	TestSkipLeaseCheckEnv = "GOAVAIL_TEST_SKIP_LEASE_CHECK"
	// TestNoZoneFenceEnv ("1") writes without the zone fence
	// (zonefence.go), as goavail did before it: the chaos suite shows
	// with it what the fence prevents.
	TestNoZoneFenceEnv = "GOAVAIL_TEST_NO_ZONE_FENCE"
)

// testPauseBeforeSend is the pause TestPauseBeforeSendEnv asks for (0: none).
func testPauseBeforeSend() time.Duration {
	d, err := time.ParseDuration(os.Getenv(TestPauseBeforeSendEnv))
	if err != nil || d < 0 {
		return 0
	}
	return d
}

// testSkipLeaseCheck reports whether TestSkipLeaseCheckEnv is set.
func testSkipLeaseCheck() bool { return os.Getenv(TestSkipLeaseCheckEnv) == "1" }

// testNoZoneFence reports whether TestNoZoneFenceEnv is set.
func testNoZoneFence() bool { return os.Getenv(TestNoZoneFenceEnv) == "1" }
