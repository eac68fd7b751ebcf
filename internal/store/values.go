package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm/clause"
)

// Value returns a system value, or "" when it is not set.
func (s *Store) Value(ctx context.Context, key string) (string, error) {
	var r ValueRow
	err := s.conn(ctx).Where("key = ?", key).Limit(1).Find(&r).Error
	return r.Value, err
}

// SetValue writes a system value, replacing any earlier one.
func (s *Store) SetValue(ctx context.Context, key, value string, now time.Time) error {
	return s.conn(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "key"}},
		DoUpdates: clause.AssignmentColumns([]string{"value", "updated_at"}),
	}).Create(&ValueRow{Key: key, Value: value, UpdatedAt: now.UTC()}).Error
}

// SetValueIfAbsent writes a value unless one exists, and returns the value that is stored
// afterwards; concurrent callers all get the same winner.
func (s *Store) SetValueIfAbsent(ctx context.Context, key, value string, now time.Time) (string, error) {
	if _, err := s.InsertValue(ctx, key, value, now); err != nil {
		return "", err
	}
	return s.Value(ctx, key)
}

// InsertValue writes a value only when none is stored under key, and reports whether this
// call wrote it. The database settles a race (INSERT … ON CONFLICT DO NOTHING): of callers
// that start together, exactly one gets true.
func (s *Store) InsertValue(ctx context.Context, key, value string, now time.Time) (bool, error) {
	res := s.conn(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "key"}}, DoNothing: true}).
		Create(&ValueRow{Key: key, Value: value, UpdatedAt: now.UTC()})
	if res.Error != nil {
		return false, fmt.Errorf("insert value %s: %w", key, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// TakeValue deletes a value only if it still equals value, reporting whether this caller took it.
// It makes one-time tokens single-use even when two requests race.
func (s *Store) TakeValue(ctx context.Context, key, value string) (bool, error) {
	res := s.conn(ctx).Where("key = ? AND value = ?", key, value).Delete(&ValueRow{})
	return res.RowsAffected == 1, res.Error
}

// ClaimTurn gives the caller the turn named key when none was taken yet or the last one was
// taken every or longer before now, and records now as its time; the database settles a race, so
// of processes that ask together exactly one gets true. For work one process of many should do
// at most once a period.
func (s *Store) ClaimTurn(ctx context.Context, key string, now time.Time, every time.Duration) (bool, error) {
	if first, err := s.InsertValue(ctx, key, "", now); err != nil || first {
		return first, err
	}
	return s.TakeTurn(ctx, key, now, every)
}

// TakeTurn is ClaimTurn without its first insert, for a caller that made the turn's row itself
// (InsertValue): it gives the turn only when the row's time is every or longer before now.
func (s *Store) TakeTurn(ctx context.Context, key string, now time.Time, every time.Duration) (bool, error) {
	res := s.conn(ctx).Model(&ValueRow{}).Where("key = ? AND updated_at <= ?", key, now.UTC().Add(-every)).
		Update("updated_at", now.UTC())
	if res.Error != nil {
		return false, fmt.Errorf("claim %s: %w", key, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// ReleaseTurn gives back the turn named key taken at takenAt (ClaimTurn with every), so the next
// ask takes it; a turn taken again since is left alone.
func (s *Store) ReleaseTurn(ctx context.Context, key string, takenAt time.Time, every time.Duration) error {
	return s.conn(ctx).Model(&ValueRow{}).Where("key = ? AND updated_at = ?", key, takenAt.UTC()).
		Update("updated_at", takenAt.UTC().Add(-every)).Error
}
