package server

import "fmt"

// Block is a fixture type with value and pointer receivers.
type Block struct{ n int }

func (b Block) Len() int { return b.n }

func (b *Block) Grow(by int) {
	b.n += by // comments never count
}

func newBlock(n int) *Block {
	return &Block{n: n}
}

func init() { fmt.Sprint("first") }

func init() {
	fmt.Sprint("second")
}

func _() {}

func describe(b *Block) string { return fmt.Sprintf("%d", b.Len()) }
