print("fasco")
