package mcp

// LeanServed is how many requests h's lean path answered: tests tell the paths apart by it.
func LeanServed(h *Handler) int64 { return h.leanServed.Load() }
