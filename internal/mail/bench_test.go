package mail_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/mail"
	"github.com/elevate-pam/elevate/internal/mail/mailtest"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// BenchmarkDeliver1000 reports the time the worker needs to deliver 1,000 queued messages to the
// loopback SMTP server (claims, sends, outcome and audit event per message) beside the time the
// same server needs to accept 1,000 messages from a plain client on one connection, in the same
// run, and the statements and round trips the outbox spent per message (from the store's
// counters; exact, unlike the times on a shared machine). Run it with `make bench`.
func BenchmarkDeliver1000(b *testing.B) {
	const n = 1000
	for _, dialect := range testenv.Dialects {
		b.Run(dialect, func(b *testing.B) {
			ctx := context.Background()
			var outboxTime, plainTime time.Duration
			var stmts, trips uint64
			for range b.N {
				b.StopTimer()
				db := testenv.Store(b, dialect)
				srv := mailtest.Start(b, mailtest.Options{})
				sender := mail.NewSMTP(srv.SMTP(), from, mail.WithRootCAs(srv.Roots))
				now := time.Now().UTC()
				msgs := make([]pam.OutboxMessage, n)
				for i := range msgs {
					msgs[i] = pam.OutboxMessage{ID: fmt.Sprintf("00000000-0000-0000-0000-%012d", i), Kind: "bench",
						Recipient: fmt.Sprintf("u%04d@example.com", i), Subject: "Approval needed", Text: "text part",
						HTML: "<p>html part</p>", CreatedAt: now}
				}
				if err := db.Tx(ctx, func(tx *store.Store) error {
					for _, m := range msgs {
						if err := tx.EnqueueMail(ctx, m); err != nil {
							return err
						}
					}
					return nil
				}); err != nil {
					b.Fatal(err)
				}
				w := mail.NewWorker(db, sender, func() time.Time { return time.Now().UTC() }, quiet)
				b.StartTimer()

				before := db.Counts()
				start := time.Now()
				if got, err := w.DeliverDue(ctx); err != nil || got != n {
					b.Fatalf("delivered %d: %v", got, err)
				}
				outboxTime += time.Since(start)
				after := db.Counts()
				stmts += after.Statements - before.Statements
				trips += after.RoundTrips - before.RoundTrips

				start = time.Now()
				for i, err := range sender.Send(ctx, msgs) {
					if err != nil {
						b.Fatalf("plain send %d: %v", i, err)
					}
				}
				plainTime += time.Since(start)
				if len(srv.Messages()) != 2*n {
					b.Fatalf("server accepted %d", len(srv.Messages()))
				}
			}
			b.ReportMetric(outboxTime.Seconds()/float64(b.N), "s/1000-via-outbox")
			b.ReportMetric(plainTime.Seconds()/float64(b.N), "s/1000-plain-client")
			b.ReportMetric(float64(outboxTime)/float64(plainTime), "outbox/plain")
			b.ReportMetric(float64(stmts)/float64(n*b.N), "stmts/msg")
			b.ReportMetric(float64(trips)/float64(n*b.N), "trips/msg")
		})
	}
}
