// Package importer moves a stopped lnd node's payment history and mission-control
// results into an lnpaystore store, reading them with lnd's own packages (kvdb and
// the payments store of lnd's payments/db), and compares both sides field by field.
package importer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/lightningnetwork/lnd/kvdb"
	paymentsdb "github.com/lightningnetwork/lnd/payments/db"
	"github.com/lightningnetwork/lnd/sqldb"
)

// Source is a stopped lnd node's data, opened read-only: channel.db (bbolt), which
// holds mission control and, unless the node runs lnd's native SQL payments store, the
// payments; and that SQL store when it does.
type Source struct {
	// Payments is lnd's payments store the history is read from.
	Payments paymentsdb.DB
	// KV is channel.db, for mission control (and its payments).
	KV kvdb.Backend
	// Kind names where the payments come from ("channel.db", "sqlite", "postgres").
	Kind string
	// sql is lnd's SQL database when the payments come from there (for the legacy
	// duplicates lnd's migration kept in a table of their own).
	sql    *sql.DB
	closes []func() error
}

// Close releases every database of the source.
func (s *Source) Close() error {
	var errs []error
	for i := len(s.closes) - 1; i >= 0; i-- {
		errs = append(errs, s.closes[i]())
	}
	return errors.Join(errs...)
}

// OpenChannelDB opens lnd's channel.db read-only, with lnd's kvdb and payments store
// (no migration, no write: bbolt's read-only mode). A running lnd holds the file's
// lock; the open then times out.
func OpenChannelDB(path string) (*Source, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("channel.db: %w", err)
	}
	db, err := kvdb.GetBoltBackend(&kvdb.BoltBackendConfig{
		DBPath:            filepath.Dir(path),
		DBFileName:        filepath.Base(path),
		NoFreelistSync:    true,
		AutoCompact:       false,
		AutoCompactMinAge: kvdb.DefaultBoltAutoCompactMinAge,
		DBTimeout:         5 * time.Second,
		ReadOnly:          true,
	})
	if err != nil {
		return nil, fmt.Errorf("open %s read-only (is lnd stopped?): %w", path, err)
	}
	payments, err := paymentsdb.NewKVStore(db, paymentsdb.WithNoMigration(true))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("lnd payments store in %s: %w", path, err)
	}
	return &Source{Payments: payments, KV: db, Kind: "channel.db", closes: []func() error{db.Close}}, nil
}

// UseSQLite reads the payments from lnd's native SQL payments store in a SQLite
// database (lnd's db.use-native-sql with the sqlite backend) instead of channel.db.
// Migrations are skipped: the file's schema is read as lnd left it.
func (s *Source) UseSQLite(path string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("sqlite payments database: %w", err)
	}
	store, err := sqldb.NewSqliteStore(&sqldb.SqliteConfig{
		SkipMigrations: true,
		QueryConfig:    *sqldb.DefaultSQLiteConfig(),
	}, path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	s.sql = store.DB
	return s.useSQL(store.GetBaseDB(), "sqlite", sqldb.DefaultSQLiteConfig(), store.DB.Close)
}

// UsePostgres reads the payments from lnd's native SQL payments store in PostgreSQL.
func (s *Source) UsePostgres(dsn string) error {
	store, err := sqldb.NewPostgresStore(&sqldb.PostgresConfig{
		Dsn:            dsn,
		SkipMigrations: true,
		QueryConfig:    *sqldb.DefaultPostgresConfig(),
	})
	if err != nil {
		return fmt.Errorf("open the PostgreSQL payments database: %w", err)
	}
	s.sql = store.DB
	return s.useSQL(store.GetBaseDB(), "postgres", sqldb.DefaultPostgresConfig(), store.DB.Close)
}

func (s *Source) useSQL(base *sqldb.BaseDB, kind string, queries *sqldb.QueryConfig,
	closeDB func() error) error {

	executor := sqldb.NewTransactionExecutor(base, func(tx *sql.Tx) paymentsdb.SQLQueries {
		return base.WithTx(tx)
	})
	payments, err := paymentsdb.NewSQLStore(&paymentsdb.SQLStoreConfig{QueryCfg: queries}, executor)
	if err != nil {
		closeDB()
		return fmt.Errorf("lnd SQL payments store: %w", err)
	}
	s.Payments, s.Kind = payments, kind
	s.closes = append(s.closes, closeDB)
	return nil
}

// count is the number of payments lnd holds (its own count_total).
func (s *Source) count(ctx context.Context) (uint64, error) {
	r, err := s.Payments.QueryPayments(ctx, paymentsdb.Query{MaxPayments: 1, IncludeIncomplete: true, CountTotal: true})
	if err != nil {
		return 0, err
	}
	return r.TotalCount, nil
}

// pages calls f with lnd's payments in sequence order, pageSize at a time.
func (s *Source) pages(ctx context.Context, pageSize uint64, f func([]*paymentsdb.MPPayment) error) error {
	return s.rangePages(ctx, 0, math.MaxUint64, pageSize, f)
}

// lastSequenceNum is the highest sequence number lnd holds (0 when none).
func (s *Source) lastSequenceNum(ctx context.Context) (uint64, error) {
	r, err := s.Payments.QueryPayments(ctx, paymentsdb.Query{MaxPayments: 1, Reversed: true, IncludeIncomplete: true})
	if err != nil || len(r.Payments) == 0 {
		return 0, err
	}
	return r.Payments[0].SequenceNum, nil
}

// rangePages is pages over the sequence numbers in (after, upTo].
func (s *Source) rangePages(ctx context.Context, after, upTo, pageSize uint64,
	f func([]*paymentsdb.MPPayment) error) error {

	offset := after
	for {
		r, err := s.Payments.QueryPayments(ctx, paymentsdb.Query{
			IndexOffset: offset, MaxPayments: pageSize, IncludeIncomplete: true,
		})
		if err != nil {
			return fmt.Errorf("lnd QueryPayments after %d: %w", offset, err)
		}
		page := r.Payments
		for len(page) > 0 && page[len(page)-1].SequenceNum > upTo {
			page = page[:len(page)-1]
		}
		if len(page) > 0 {
			if err := f(page); err != nil {
				return err
			}
		}
		if len(page) < len(r.Payments) || len(r.Payments) == 0 {
			return nil
		}
		offset = r.LastIndexOffset
	}
}
