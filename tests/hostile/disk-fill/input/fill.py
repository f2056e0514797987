f = open("/work/big", "wb")
while True:
    f.write(b"x" * 65536)
    f.flush()
