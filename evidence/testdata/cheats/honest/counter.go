// Package honest is an honest port of package upstream: every gate passes.
package honest

// Counter accumulates additions and remembers them.
type Counter struct {
	total   int
	history []int
}

func (c *Counter) Add(d int) {
	c.total += d
	c.history = append(c.history, d)
}

func (c *Counter) Reset() {
	c.total = 0
	c.history = nil
}

func (c *Counter) Value() int { return c.total }

// Close has nothing to release, as upstream's.
func (c *Counter) Close() {}

// Version is a constant, as upstream's.
func Version() string { return "1.0" }
