package store

import (
	"context"

	"github.com/elevate-pam/elevate/internal/audit"
)

// AppendAuditBatch appends evs, in order, to the chain in one sealer pass (one transaction,
// one turn on the chain's head), sealing whatever stored events are due before them. For bulk
// loads and tests; a check uses SealAudit, which shares passes with other callers.
func (s *Store) AppendAuditBatch(ctx context.Context, evs []*audit.Event) error {
	if len(evs) == 0 {
		return nil
	}
	_, err := s.sealPass(ctx, evs)
	return err
}
