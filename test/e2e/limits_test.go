package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/testkit"
)

// peakRSS reads a process's peak resident set size (VmHWM) in bytes from /proc.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("this test reads the server's peak memory from /proc, which this system lacks: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// filler yields n bytes of 'a' without holding them, so the client stays small.
type filler struct{ n int64 }

func (f *filler) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > f.n {
		p = p[:f.n]
	}
	for i := range p {
		p[i] = 'a'
	}
	f.n -= int64(len(p))
	return len(p), nil
}

// TestLargeAnonymousBodiesKeepServerMemoryLow: eight parallel 40 MB posts to /login, as
// multipart and as urlencoded forms, half of them without a Content-Length, are refused with
// 415 or 413 before they are read, and the server's peak resident memory stays under 150 MB.
func TestLargeAnonymousBodiesKeepServerMemoryLow(t *testing.T) {
	p := testkit.Serve(t, map[string]string{"ELEVATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "big.db")})
	const size = 40 << 20
	const boundary = "elevate-test-boundary"
	before := peakRSS(t, p.Pid())

	type post struct {
		multipart, chunked bool
	}
	var posts []post
	for i := 0; i < 8; i++ {
		posts = append(posts, post{multipart: i%2 == 0, chunked: i%4 >= 2})
	}
	client := &http.Client{Timeout: 60 * time.Second}
	var wg sync.WaitGroup
	results := make([]string, len(posts))
	for i, ps := range posts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var head, tail, ctype string
			if ps.multipart {
				head = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\nx\r\n" +
					"--" + boundary + "\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n"
				tail = "\r\n--" + boundary + "--\r\n"
				ctype = "multipart/form-data; boundary=" + boundary
			} else {
				head, ctype = "_csrf=x&email=", "application/x-www-form-urlencoded"
			}
			body := io.MultiReader(strings.NewReader(head), &filler{n: size}, strings.NewReader(tail))
			req, err := http.NewRequest(http.MethodPost, p.Base+"/login", body)
			if err != nil {
				results[i] = err.Error()
				return
			}
			req.Header.Set("Content-Type", ctype)
			if !ps.chunked {
				req.ContentLength = int64(len(head) + size + len(tail))
			}
			resp, err := client.Do(req)
			if err != nil {
				results[i] = "error: " + err.Error()
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			results[i] = strconv.Itoa(resp.StatusCode)
		}()
	}
	wg.Wait()

	peak := peakRSS(t, p.Pid())
	t.Logf("server peak resident memory: %d MB before the posts, %d MB after", before>>20, peak>>20)
	for i, ps := range posts {
		want := "413"
		if ps.multipart {
			want = "415"
		}
		if results[i] != want {
			t.Errorf("post %d (multipart %v, chunked %v): got %s, want %s", i, ps.multipart, ps.chunked, results[i], want)
		}
	}
	if peak >= 150<<20 {
		t.Errorf("server peak resident memory %d MB, want under 150 MB\n%s", peak>>20, p.Logs())
	}
	// The server still answers.
	resp, err := http.Get(p.Base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /login after the posts: %d", resp.StatusCode)
	}
}
