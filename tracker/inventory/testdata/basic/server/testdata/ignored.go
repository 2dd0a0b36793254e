package ignored

func NotScanned() {}
