package store

import (
	"context"
	"errors"

	"github.com/elevate-pam/elevate/internal/audit"
)

// AppendAuditBatch appends evs, in order, to the chain in one sealer pass (one transaction,
// one turn on the chain's head), sealing whatever stored events are due before them. For bulk
// loads and tests; a check uses SealAudit, which shares passes with other callers. It takes
// the process's turn at sealing, so it refuses to run inside a transaction, whose locks a
// pass of this process could be waiting for.
func (s *Store) AppendAuditBatch(ctx context.Context, evs []*audit.Event) error {
	if s.inTx {
		return errors.New("audit: AppendAuditBatch runs in its own transaction, not inside one")
	}
	if len(evs) == 0 {
		return nil
	}
	_, err := s.sealPass(ctx, evs)
	return err
}
