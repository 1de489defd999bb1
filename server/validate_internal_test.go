package server

import (
	"math/rand/v2"
	"regexp"
	"testing"
)

// isUUIDText accepts exactly what the pattern of the UUID text form accepts.
func TestIsUUIDText(t *testing.T) {
	pattern := regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	cases := []string{
		"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B", "00000000-0000-0000-0000-000000000000",
		"", "0190a1b2c3d47e5f8a9b0c1d2e3f4a5b", "{0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b}", "urn:uuid:0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
		"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5g", "0190a1b2-c3d47-e5f-8a9b-0c1d2e3f4a5b", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\n",
	}
	rng := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // reproducible test inputs, not secrets
	const alphabet = "0123456789abcdefABCDEFgG-{}: \x00é"
	for range 20000 { // mutations of a valid id: one or two characters replaced
		b := []byte(cases[0])
		for range 1 + rng.IntN(2) {
			b[rng.IntN(len(b))] = alphabet[rng.IntN(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		if got, want := isUUIDText(s), pattern.MatchString(s); got != want {
			t.Errorf("isUUIDText(%q) = %v, the pattern says %v", s, got, want)
		}
	}
}
