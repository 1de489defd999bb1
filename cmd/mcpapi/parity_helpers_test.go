package main

import (
	"time"

	"github.com/mcpapi/mcpapi/store"
	"github.com/mcpapi/mcpapi/store/storetest"
)

// storeOf opens the app's database directly (migrated already), for what the API cannot do:
// moving time forward for an expiry, planting call logs at chosen times.
func (a *app) storeOf() *store.Store {
	a.t.Helper()
	return storetest.OpenStore(a.t, a.dbURL)
}

// setExpiry writes expires_at of an MCP server behind the API's back (the API refuses an
// expiry less than 60 s ahead): the way a test lets time pass.
func (a *app) setExpiry(id string, at time.Time) {
	a.t.Helper()
	st := a.storeOf()
	var v any = at.UTC()
	if st.Dialect() == store.DialectSQLite {
		v = at.UTC().Format("2006-01-02 15:04:05.000000+00:00")
	}
	res := st.DB().Exec(`UPDATE mcp_servers SET expires_at = ? WHERE id = ?`, v, id)
	if res.Error != nil || res.RowsAffected != 1 {
		a.t.Fatalf("set expiry of %s: %v (%d rows)", id, res.Error, res.RowsAffected)
	}
}

// countRows counts the rows of a table, straight from the database.
func (a *app) countRows(table string) int64 {
	a.t.Helper()
	var n int64
	if err := a.storeOf().DB().Raw(`SELECT count(*) FROM ` + table).Scan(&n).Error; err != nil {
		a.t.Fatal(err)
	}
	return n
}
