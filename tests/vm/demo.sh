# The demo: the 1999 article's walkthrough on a real kernel (placeholder
# until our modprobe lands: kmod's modprobe stands in, and says so).
echo "@@DEMO-BEGIN"
echo "(demo not written yet)"
echo "@@DEMO-END"
