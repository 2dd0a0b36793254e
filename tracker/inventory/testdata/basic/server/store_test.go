package server

import "testing"

func TestBlockGrow(t *testing.T) {
	b := newBlock(1)
	b.Grow(2)
	if b.Len() != 3 {
		t.Fatal("grow")
	}
}

func TestTree(t *testing.T) {
	var tr Tree[int]
	tr.Insert(1)
	helperCheck(t, describe(newBlock(0)))
}

// Not tests: lower-case after Test, wrong parameter, benchmark, helper.
func Testlower(t *testing.T)             {}
func TestWrongParam(b *testing.B)        {}
func BenchmarkBlock(b *testing.B)        {}
func helperCheck(t *testing.T, s string) {}
