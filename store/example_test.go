package store_test

import (
	"fmt"
	"os"

	"github.com/porttracker/porttracker/store"
)

// The README's example, kept compiling and correct.
func ExampleNewFileStore() {
	dir, err := os.MkdirTemp("", "store-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	fs, err := store.NewFileStore(store.FileStoreConfig{StoreDir: dir}, store.StreamConfig{
		Name: "orders", Subjects: []string{"orders.>"}, Storage: store.FileStorage,
	})
	if err != nil {
		panic(err)
	}
	defer fs.Stop()

	seq, _, err := fs.StoreMsg("orders.new", nil, []byte("hello"), 0)
	if err != nil {
		panic(err)
	}
	sm, err := fs.LoadMsg(seq, nil)
	if err != nil {
		panic(err)
	}
	state := fs.State()
	fmt.Println(seq, sm.Subject(), string(sm.Data()), state.Msgs)
	// Output: 1 orders.new hello 1
}
