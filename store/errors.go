package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

// wrapErr prefixes err with the operation and, when the database could not be reached,
// timed out or is busy, also wraps ErrUnavailable. Store sentinels pass through as they are.
func wrapErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrBadCursor), errors.Is(err, ErrVersionMismatch),
		errors.Is(err, ErrUnavailable):
		return err
	case unavailable(err):
		return fmt.Errorf("store: %s: %w: %w", op, ErrUnavailable, err)
	default:
		return fmt.Errorf("store: %s: %w", op, err)
	}
}

// unavailable reports errors that say nothing about the request and everything about the
// database: timeouts, cancellation, refused or broken connections, shutdown, busy files.
func unavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		// A connection that broke mid-answer (the server went away) reads as EOF.
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) || pgconn.Timeout(err) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// 08: connection exception; 53: insufficient resources; 57P0x: shutdown/cannot connect.
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "53") ||
			strings.HasPrefix(pgErr.Code, "57P")
	}
	if code, ok := sqliteCode(err); ok {
		// SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
		return code&0xff == 5 || code&0xff == 6
	}
	return false
}

// translate is GORM's error translation (gorm.Config.TranslateError) applied by hand: the
// dialect maps its driver's constraint errors to gorm.ErrForeignKeyViolated and
// gorm.ErrDuplicatedKey (both pinned dialects, gorm.io/driver/postgres and glebarez/sqlite,
// implement gorm.ErrorTranslator). GORM translates the errors of its own finishers; the store's
// statements run beside them (scanAll, exec), which call this.
func translate(db *gorm.DB, err error) error {
	if t, ok := db.Dialector.(gorm.ErrorTranslator); ok && err != nil {
		return t.Translate(err)
	}
	return err
}

// sqliteCode is the result code of an SQLite error. GORM's translation has no kind for "busy"
// or "locked", so unavailable reads the code itself; this is the only place that does.
func sqliteCode(err error) (int, bool) {
	var coded interface {
		error
		Code() int
	}
	if errors.As(err, &coded) {
		return coded.Code(), true
	}
	return 0, false
}
