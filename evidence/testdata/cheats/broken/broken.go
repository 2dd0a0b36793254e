// Package broken does not compile: the build gate and every test of it fail.
package broken

func Value() int { return "not an int" }
