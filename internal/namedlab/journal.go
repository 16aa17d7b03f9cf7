package namedlab

import (
	"bufio"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	mdns "github.com/miekg/dns"
)

// Txn is one transaction of named's zone journal: one committed dynamic
// update, taking the zone's SOA serial From to To, with the records it
// deleted and added (the SOA records left out).
type Txn struct {
	From, To       uint32
	Deleted, Added []mdns.RR
}

// Journal reads the zone's journal (the .jnl file named keeps of every
// committed dynamic update) with named-journalprint: the server's own
// record of the order, base and result of every commit. The zone is set
// up with max-journal-size unlimited, so no transaction is trimmed.
func (s *Server) Journal() ([]Txn, error) {
	jnl := filepath.Join(s.dir, s.Zone+".zone.jnl")
	out, err := exec.Command("named-journalprint", jnl).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return nil, fmt.Errorf("named-journalprint %s: %w: %s", jnl, err, ee.Stderr)
		}
		return nil, fmt.Errorf("named-journalprint %s (bind9-utils installs it): %w", jnl, err)
	}
	return ParseJournal(string(out))
}

// ParseJournal parses named-journalprint's output: each transaction is
// "del" of the old SOA, the deleted records, "add" of the new SOA and the
// added records, one record a line.
func ParseJournal(out string) ([]Txn, error) {
	var txns []Txn
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		op, rest, _ := strings.Cut(line, " ")
		if op != "del" && op != "add" {
			continue // a header or a blank line
		}
		rr, err := mdns.NewRR(rest)
		if err != nil || rr == nil {
			return nil, fmt.Errorf("journal line %d %q: %v", n, line, err)
		}
		soa, isSOA := rr.(*mdns.SOA)
		switch {
		case isSOA && op == "del":
			txns = append(txns, Txn{From: soa.Serial})
		case len(txns) == 0:
			return nil, fmt.Errorf("journal line %d %q: a record before the first transaction's SOA", n, line)
		case isSOA:
			txns[len(txns)-1].To = soa.Serial
		case op == "del":
			txns[len(txns)-1].Deleted = append(txns[len(txns)-1].Deleted, rr)
		default:
			txns[len(txns)-1].Added = append(txns[len(txns)-1].Added, rr)
		}
	}
	return txns, sc.Err()
}
