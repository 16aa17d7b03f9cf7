package history

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// crashWriterEnv makes the test binary a writer that appends one event at
// a time to the store it names and prints each event's number once its
// transaction committed.
const crashWriterEnv = "GOAVAIL_HISTORY_CRASH_WRITER"

func TestMain(m *testing.M) {
	if path := os.Getenv(crashWriterEnv); path != "" {
		s, err := Open(path, Options{})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		round, _ := strconv.Atoi(os.Getenv(crashWriterEnv + "_ROUND"))
		for i := 0; ; i++ {
			if err := s.Append([]Event{{At: t0.Add(time.Duration(round)*time.Hour + time.Duration(i)*time.Millisecond), Kind: KindTransition, Node: "n1", Detail: strconv.Itoa(i)}}); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			fmt.Println(i)
		}
	}
	os.Exit(m.Run())
}

// TestBolt_KillDuringWrites kills (SIGKILL) a process that writes events
// as fast as it can, so the kill lands in the middle of a write, and
// reopens the store: it opens, and holds every event the writer had seen
// committed, in order, and at most the one being written besides.
func TestBolt_KillDuringWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	for round, after := range []int{50, 120, 300} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashWriterEnv+"="+path, fmt.Sprintf("%s_ROUND=%d", crashWriterEnv, round))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		acked := -1
		for acked < after && sc.Scan() {
			acked, _ = strconv.Atoi(sc.Text())
		}
		cmd.Process.Signal(syscall.SIGKILL)
		for sc.Scan() { // what was committed before the kill
			acked, _ = strconv.Atoi(sc.Text())
		}
		cmd.Wait()
		if acked < after {
			t.Fatalf("round %d: the writer stopped at %d", round, acked)
		}
		s, err := Open(path, Options{})
		if err != nil {
			t.Fatalf("round %d: reopening after kill -9: %v", round, err)
		}
		if aside, _ := filepath.Glob(path + ".corrupt-*"); len(aside) > 0 {
			t.Fatalf("round %d: the store was set aside after kill -9: %v", round, aside)
		}
		got, err := s.Query(Filter{})
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		// Each round's writer numbers from 0 again, an hour later: check
		// this round's run.
		var run []int
		for _, e := range got {
			n, _ := strconv.Atoi(e.Detail)
			if n == 0 {
				run = run[:0]
			}
			run = append(run, n)
		}
		for i, n := range run {
			if n != i {
				t.Fatalf("round %d: event %d is number %d: a gap or disorder", round, i, n)
			}
		}
		if last := len(run) - 1; last < acked || last > acked+1 {
			t.Errorf("round %d: the store ends at event %d; the writer had committed %d (at most one more may be there)", round, last, acked)
		}
	}
}
