// Package quickstart runs the README's "Five-minute start" as written: its shell blocks with sh
// (`go run .` replaced by the built binary, 127.0.0.1:8080 by the test server's address) against
// a fresh `elevate serve --demo`, its clicks through the pages with a plain HTTP client (no
// JavaScript, as a browser without it would), and compares what the commands print with the
// output blocks the README shows. It has only tests.
package quickstart
