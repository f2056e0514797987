# Builds a minimal pure-Python wheel: mkwheel.py DIR NAME VERSION VALUE
import base64, hashlib, os, sys, zipfile

out, name, version, value = sys.argv[1:5]
files = {
    "%s/__init__.py" % name: "VALUE = %s\n" % value,
    "%s-%s.dist-info/METADATA" % (name, version): "Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version),
    "%s-%s.dist-info/WHEEL" % (name, version): "Wheel-Version: 1.0\nGenerator: sandq-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = "%s-%s.dist-info/RECORD" % (name, version)
lines = []
path = os.path.join(out, "%s-%s-py3-none-any.whl" % (name, version))
with zipfile.ZipFile(path, "w") as z:
    for f, text in files.items():
        data = text.encode()
        z.writestr(f, data)
        h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append("%s,sha256=%s,%d" % (f, h, len(data)))
    lines.append(record + ",,")
    z.writestr(record, "\n".join(lines) + "\n")
print(path)
