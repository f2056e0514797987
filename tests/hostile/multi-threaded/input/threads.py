import threading
r = []
ts = [threading.Thread(target=lambda: r.append(sum(range(100000)))) for _ in range(16)]
for t in ts:
    t.start()
for t in ts:
    t.join()
assert len(r) == 16
print("threads ok")
