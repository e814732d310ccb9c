package memmap

import (
	"reflect"
	"testing"
)

func TestFaultHistory(t *testing.T) {
	var h FaultHistory
	if got := h.AppendRange(nil, 0, 100, 10); len(got) != 0 {
		t.Errorf("empty history: %v", got)
	}
	for _, w := range []uint64{3, 64, 65, 200, maxHistory - 1, maxHistory, 1 << 40} {
		h.Add(w)
	}
	h.Add(3)
	for _, c := range []struct {
		lo, hi uint64
		max    int
		want   []uint64
	}{
		{0, 1 << 50, 10, []uint64{3, 64, 65, 200, maxHistory - 1}},
		{4, 200, 10, []uint64{64, 65}},
		{0, 1 << 50, 2, []uint64{3, 64}},
		{65, 66, 10, []uint64{65}},
		{201, maxHistory - 1, 10, nil},
	} {
		if got := h.AppendRange(nil, c.lo, c.hi, c.max); !reflect.DeepEqual(got, c.want) {
			t.Errorf("[%d, %d) max %d: %v, want %v", c.lo, c.hi, c.max, got, c.want)
		}
	}
}
