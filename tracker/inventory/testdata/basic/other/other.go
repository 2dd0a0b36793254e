package other

func OutsideServer() {}
