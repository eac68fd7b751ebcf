package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// Batches and single appends interleave from many goroutines; the chain stays whole and
// gapless, and a batch that cannot commit leaves no event behind.
func TestAuditBatchesInterleaveWithSingleAppends(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		db := testenv.Store(t, dialect)
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for w := range 4 {
			wg.Add(2)
			go func() {
				defer wg.Done()
				for i := range 5 {
					evs := make([]*audit.Event, 30)
					for j := range evs {
						evs[j] = audit.System.Event(audit.AccessChecked, "w", fmt.Sprintf("%d-%d-%d", w, i, j), nil)
					}
					if err := db.AppendAuditBatch(ctx, evs); err != nil {
						errs <- err
						return
					}
				}
			}()
			go func() {
				defer wg.Done()
				for i := range 20 {
					if err := db.AppendAudit(ctx, audit.System.Event(audit.SettingsUpdated, "w", fmt.Sprint(w, i), nil)); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		head, n, err := db.VerifyAudit(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(4*5*30 + 4*20); n != want || head.Seq != want {
			t.Fatalf("verified %d events, head %d; want %d", n, head.Seq, want)
		}

		// A batch is its own sealer pass: inside a transaction, whose locks this process's
		// sealer could be waiting for, it is refused and appends nothing.
		err = db.Tx(ctx, func(tx *store.Store) error {
			return tx.AppendAuditBatch(ctx, []*audit.Event{audit.System.Event(audit.MailSent, "w", "x", nil)})
		})
		if err == nil || !strings.Contains(err.Error(), "not inside one") {
			t.Fatalf("a batch inside a transaction: %v", err)
		}
		if h, _ := db.AuditHead(ctx); h.Seq != head.Seq {
			t.Fatalf("head moved to %d after a refused batch", h.Seq)
		}
	})
}
