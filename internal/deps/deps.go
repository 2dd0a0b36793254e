package deps
import (
	_ "github.com/spf13/cobra"
	_ "modernc.org/sqlite"
	_ "github.com/olekukonko/tablewriter"
	_ "github.com/klauspost/compress/s2"
	_ "github.com/klauspost/compress/zstd"
	_ "github.com/minio/highwayhash"
	_ "golang.org/x/crypto/chacha20poly1305"
	_ "golang.org/x/tools/cover"
)
