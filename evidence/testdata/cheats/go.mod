module cheats

go 1.26
