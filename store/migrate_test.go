package store_test

import (
	"sync"
	"testing"

	"github.com/mcpapi/mcpapi/store"
	"github.com/mcpapi/mcpapi/store/storetest"
)

const latestVersion = 4

var tables = []string{"environments", "api_tokens", "integrated_accounts", "mcp_servers", "idempotency_keys"}

func TestMigrateIsIdempotent(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, url string) {
		ctx := ctxT(t)
		s, err := store.Open(ctx, url)
		must(t, err)
		closeAtEnd(t, s)
		v, err := s.MigrationVersion(ctx)
		must(t, err)
		if v != 0 {
			t.Fatalf("fresh database at version %d", v)
		}
		for i := 0; i < 3; i++ {
			must(t, s.Migrate(ctx))
			v, err := s.MigrationVersion(ctx)
			must(t, err)
			if v != latestVersion {
				t.Fatalf("after Migrate #%d: version %d, want %d", i+1, v, latestVersion)
			}
		}
		for _, table := range tables {
			var n int64
			if err := s.DB().WithContext(ctx).Raw("SELECT count(*) FROM " + table).Scan(&n).Error; err != nil {
				t.Errorf("table %s: %v", table, err)
			}
		}
		// The data survives a second migration run.
		f := newFixture(t, s)
		must(t, s.Migrate(ctx))
		if _, err := s.GetIntegratedAccount(ctx, f.env, f.account.ID); err != nil {
			t.Fatal(err)
		}
	})
}

// Instances starting together migrate once: the others wait and find nothing to do.
func TestMigrateConcurrently(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, url string) {
		ctx := ctxT(t)
		const n = 3
		stores := make([]*store.Store, n)
		for i := range stores {
			s, err := store.Open(ctx, url)
			must(t, err)
			closeAtEnd(t, s)
			stores[i] = s
		}
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i, s := range stores {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.Migrate(ctx)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Migrate #%d: %v", i, err)
			}
		}
		var applied int64
		must(t, stores[0].DB().WithContext(ctx).
			Raw("SELECT count(*) FROM goose_db_version WHERE version_id > 0").Scan(&applied).Error)
		if applied != latestVersion {
			t.Errorf("%d migrations recorded, want %d", applied, latestVersion)
		}
	})
}
