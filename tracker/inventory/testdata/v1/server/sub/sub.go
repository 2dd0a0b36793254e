package sub

func Stable() {}
