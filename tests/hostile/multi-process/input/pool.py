import multiprocessing as mp
if __name__ == "__main__":
    with mp.Pool(4) as p:
        assert sum(p.map(abs, range(-100, 100))) == 10000
    print("pool ok")
