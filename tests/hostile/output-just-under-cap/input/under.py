import sys
sys.stdout.write("x" * (1048576 - 100))
