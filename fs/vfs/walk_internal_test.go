package vfs

import (
	"reflect"
	"strings"
	"testing"
)

// TestLookupAhead: the names a lookup is told will follow it are the
// intermediate components of the rest of the path, up to the first "."
// or "..", at most maxAhead, never the last component.
func TestLookupAhead(t *testing.T) {
	deep := strings.Repeat("/d", maxAhead+3) + "/last"
	for _, tc := range []struct {
		rest string
		want []string
	}{
		{"", nil},
		{"/last", nil},
		{"/last/", nil},
		{"/a/last", []string{"a"}},
		{"//a//b///last//", []string{"a", "b"}},
		{"/a/../b/last", []string{"a"}},
		{"/./a/last", nil},
		{"/a/" + strings.Repeat("n", NameMax+1) + "/last", []string{"a"}},
		{deep, strings.Split(strings.Repeat("d/", maxAhead), "/")[:maxAhead]},
	} {
		in := lookupIntent{rest: tc.rest}
		if got := in.ahead(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ahead of %q: %q, want %q", tc.rest, got, tc.want)
		}
	}
}
