package store_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mcpapi/mcpapi/store"
	"github.com/mcpapi/mcpapi/store/storetest"
)

func TestZZLatency(t *testing.T) {
	s := storetest.OpenStore(t, storetest.SQLiteURL(t))
	f := newFixture(t, s)
	m := f.server(t, "x", store.Config{})
	var mu sync.Mutex
	var lat []time.Duration
	run(t, 100, func(i int) error {
		for r := range 20 {
			p, _ := memberPatch(i, r)
			t0 := time.Now()
			_, err := s.UpdateMcpServer(ctxT(t), f.env, f.account.ID, m.ID, p)
			d := time.Since(t0)
			mu.Lock()
			lat = append(lat, d)
			mu.Unlock()
			if err != nil {
				return err
			}
			if i%2 == 0 {
				if _, _, err := s.ListMcpServers(ctxT(t), f.env, f.account.ID, 10, ""); err != nil {
					return err
				}
			}
		}
		return nil
	})
	slices.Sort(lat)
	fmt.Println("n", len(lat), "p50", lat[len(lat)/2], "p99", lat[len(lat)*99/100], "max", lat[len(lat)-1])
}
