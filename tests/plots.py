"""gnuplot helpers shared by the benchmarks (tests/bench.py, tests/blackout.py)."""
import subprocess

HISTOGRAM = """set terminal png size %s
set output '%s'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set grid ytics
set key top left
set ylabel '%s'
set title '%s'
plot %s
"""


def histogram(png, size, ylabel, title, plot):
    """Draw a clustered histogram PNG; plot is gnuplot's plot arguments."""
    subprocess.run(["gnuplot"], input=HISTOGRAM % (size, png, ylabel, title, plot),
                   text=True, check=False)
