package monitor

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxHeader bounds the status lines and headers of one probe's answer,
// interim (1xx) responses included, as net/http's
// Transport.MaxResponseHeaderBytes does. Its default there is 10 MiB and
// a server's is 1 MiB; a health endpoint answers in a few hundred bytes,
// and proxies in front of web servers refuse upstream headers over 4-8 KiB
// by default (nginx's proxy_buffer_size), so 64 KiB leaves room for any
// real server while 2,048 probes at once can hold no more than 128 MiB of
// hostile headers.
const maxHeader = 64 << 10

// maxInterim is how many 1xx responses a probe skips before it gives up:
// RFC 9110 lets a server send any number ahead of the answer, but more
// than a few is a broken server, and each costs a parse.
const maxInterim = 10

// reasonHeaderTooLarge is the failure reason of an answer whose header
// is over maxHeader.
var reasonHeaderTooLarge = fmt.Sprintf("response header too large: over %d KiB of status line and headers", maxHeader>>10)

var (
	errHeaderTooLarge = errors.New("response header too large")
	errBodyTooLarge   = errors.New("response body framing too large")
)

// budgetReader reads from r until n bytes are spent, then fails with err.
type budgetReader struct {
	r   io.Reader
	n   int64
	err error
}

func (b *budgetReader) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, b.err
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.r.Read(p)
	b.n -= int64(n)
	return n, err
}

// readAnswer reads the final response to req from r, skipping interim
// (1xx) responses as RFC 9110 section 15.2 asks; 101 Switching Protocols
// is final. Status lines and headers together get maxHeader bytes. The
// body then gets enough for maxBody bytes and their chunk framing and
// trailers, no more. why is the failure reason, or "".
func readAnswer(r io.Reader, req *http.Request) (res *http.Response, why string, err error) {
	budget := &budgetReader{r: r, n: maxHeader, err: errHeaderTooLarge}
	br := bufio.NewReaderSize(budget, 4096)
	for i := 0; ; i++ {
		res, err = http.ReadResponse(br, req)
		if err != nil {
			if budget.n <= 0 || errors.Is(err, errHeaderTooLarge) {
				return nil, reasonHeaderTooLarge, err
			}
			return nil, "", err
		}
		if res.StatusCode < 100 || res.StatusCode > 199 || res.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		if i == maxInterim {
			return nil, fmt.Sprintf("first byte: more than %d interim (1xx) responses", maxInterim), errors.New("too many 1xx responses")
		}
	}
	budget.n += 4 * maxBody
	budget.err = errBodyTooLarge
	return res, "", nil
}

// headerTooLarge tells whether err is net/http's refusal of an answer
// over Transport.MaxResponseHeaderBytes (it has no error value).
func headerTooLarge(err error) bool {
	return errors.Is(err, errHeaderTooLarge) || strings.Contains(err.Error(), "server response headers exceeded")
}
