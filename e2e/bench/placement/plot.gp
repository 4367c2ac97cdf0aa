# Placement chart for docs/img/placement.png, drawn from the data files that
# `placement -plot-dir DIR` writes. Run by e2e/tools/bench-placement.sh:
#   gnuplot -e "dir='DIR'; out='docs/img/placement.png'; a='default'; b='hdscale'; subtitle='...'" plot.gp
if (!exists("dir")) dir = "."
if (!exists("out")) out = "placement.png"
if (!exists("a")) a = "default"
if (!exists("b")) b = "hdscale"
if (!exists("subtitle")) subtitle = ""

set terminal png size 1200,520 font ",11"
set output out
set multiplot layout 1,2 title "Placement quality: ".a." scheduler vs ".b." (".subtitle.")"

set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key top right

set title "Replicas per node (median round) vs free CPU"
set xlabel "node background load (cores)"
set ylabel "runtime replicas / free cores"
set yrange [0:*]
plot dir."/nodes.dat" using 4:xtic(1) title a." replicas" lc rgb "#9e9e9e", \
     "" using 5 title b." replicas" lc rgb "#1f77b4", \
     "" using 0:3 with linespoints lw 2 pt 7 lc rgb "#d62728" title "free cores (CPU - load)"

set title "Batch makespan per round (processor-sharing model)"
set offsets 0, 0, graph 0.12, 0
set xlabel "round"
set ylabel "makespan (s)"
plot dir."/rounds.dat" using 2:xtic(1) title a lc rgb "#9e9e9e", \
     "" using 3 title b lc rgb "#1f77b4", \
     "" using 0:4 with linespoints lw 2 pt 7 lc rgb "#2ca02c" title "best placement (model)"

unset multiplot
