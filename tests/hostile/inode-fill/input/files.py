for i in range(100000):
    open(f"/tmp/f{i}", "w").close()
