package sub

func Helper() int { return 42 }
