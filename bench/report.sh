#!/usr/bin/env bash
# report.sh OUT - turns the tables bench/run.sh wrote into OUT (meta.tsv,
# tools.tsv, workloads.tsv, runs.tsv, scaling.tsv) into results.md (the
# Markdown table: medians, spread, each tool's speed relative to the
# baseline), results.json (every raw figure) and results.svg (bars per
# tool per workload). awk only: python may not exist on a fresh Debian.
# Baselines: `cp -a; sync -f` for copies (durable against durable:
# pomove's copy is on disk when it returns), `xxh128sum -c` for audits.
# Copies are also given as a multiple of the floor's time (pm_floor:
# create + write + syncfs as fast as the OS allows) when it ran; floor.tsv
# is optional so that older result sets still render.
set -euo pipefail
out=${1:?usage: bench/report.sh OUT}
for f in meta tools workloads runs scaling; do
  [ -f "$out/$f.tsv" ] || { echo "bench: $out/$f.tsv is missing" >&2; exit 2; }
done
floor_tsv=$out/floor.tsv
[ -f "$floor_tsv" ] || floor_tsv=/dev/null

awk -F'\t' -v out="$out" '
function jstr(s,   r) {
  r = s
  gsub(/\\/, "\\\\", r); gsub(/"/, "\\\"", r); gsub(/\t/, "\\t", r)
  return "\"" r "\""
}
function jnum(v) { return (v == "" || v == "nan") ? "null" : v + 0 }
function xml(s,   r) {
  r = s
  gsub(/&/, "\\&amp;", r); gsub(/</, "\\&lt;", r); gsub(/>/, "\\&gt;", r)
  gsub(/"/, "\\&quot;", r)
  return r
}
function mib(k) { return k == "" ? "-" : sprintf("%.1f", k / 1024) }
function human(b) {
  if (b >= 1073741824) return sprintf("%.2f GiB", b / 1073741824)
  if (b >= 1048576) return sprintf("%.1f MiB", b / 1048576)
  if (b >= 1024) return sprintf("%.1f KiB", b / 1024)
  return b " B"
}
# sorts a[1..n] numerically (insertion sort: a handful of runs)
function nsort(a, n,   i, j, t) {
  for (i = 2; i <= n; i++) {
    t = a[i]
    for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]
    a[j + 1] = t
  }
}
function median(a, n) {
  if (n == 0) return ""
  nsort(a, n)
  return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
FNR == 1 { file = FILENAME; sub(/.*\//, "", file); next }
file == "meta.tsv" { meta[$1] = $2; next }
file == "tools.tsv" {
  tkind[$2] = $1; tavail[$2] = $3; tdetail[$2] = $4
  torder[++ntools] = $2
  next
}
file == "workloads.tsv" {
  wfiles[$1] = $2; wdirs[$1] = $3; wbytes[$1] = $4; wgen[$1] = $5; wnote[$1] = $6
  worder[++nwl] = $1
  next
}
file == "runs.tsv" {
  # workload cache kind tool run wall user sys rss exit ok
  g = $1 SUBSEP $2 SUBSEP $3
  if (!(g in gseen)) { gseen[g] = 1; gorder[++ngroups] = g }
  k = g SUBSEP $4
  nr[k]++
  rw[k, nr[k]] = $6; ru[k, nr[k]] = $7; rs[k, nr[k]] = $8
  rr[k, nr[k]] = $9; rx[k, nr[k]] = $10; rok[k, nr[k]] = $11
  if ($11 == 1) nok[k]++
  next
}
file == "floor.tsv" {
  nf++
  fw[nf] = $1; fc[nf] = $2; fr[nf] = $3; fcw[nf] = $4; ffl[nf] = $5; ftot[nf] = $6
  next
}
file == "scaling.tsv" {
  ns++
  sf[ns] = $1; st[ns] = $2; sw[ns] = $3; su[ns] = $4; ss[ns] = $5
  sr[ns] = $6; sx[ns] = $7
  next
}
END {
  # ---- per group and tool: medians of the successful runs ----
  for (gi = 1; gi <= ngroups; gi++) {
    g = gorder[gi]
    split(g, gp, SUBSEP)
    for (ti = 1; ti <= ntools; ti++) {
      t = torder[ti]
      if (tkind[t] != gp[3]) continue
      k = g SUBSEP t
      if (!(k in nr)) continue
      n = 0; delete w; delete c; delete m
      mx = ""
      for (i = 1; i <= nr[k]; i++) {
        if (rok[k, i] != 1) continue
        n++
        w[n] = rw[k, i]; c[n] = ru[k, i] + rs[k, i]; m[n] = rr[k, i]
        if (rr[k, i] != "" && (mx == "" || rr[k, i] + 0 > mx + 0)) mx = rr[k, i]
      }
      if (n == 0) continue
      mn = w[1]; mxw = w[1]
      for (i = 2; i <= n; i++) { if (w[i] < mn) mn = w[i]; if (w[i] > mxw) mxw = w[i] }
      med[k] = median(w, n); wmin[k] = mn; wmax[k] = mxw
      cpu[k] = median(c, n)
      rssmed[k] = (m[1] == "") ? "" : median(m, n)
      rssmax[k] = mx
      spread[k] = med[k] > 0 ? 100 * (mxw - mn) / med[k] : 0
      # Coefficient of variation: sample standard deviation over the mean.
      sum = 0; for (i = 1; i <= n; i++) sum += w[i]
      mean = sum / n; q = 0
      for (i = 1; i <= n; i++) q += (w[i] - mean) ^ 2
      cv[k] = (n > 1 && mean > 0) ? 100 * sqrt(q / (n - 1)) / mean : 0
    }
  }
  base["copy"] = "cp-a+sync"; base["audit"] = "xxh128sum-c"
  basename["copy"] = "cp -a; sync -f"; basename["audit"] = "xxh128sum -c"
  # Copies that are on disk when they return; the others leave dirty pages.
  split("pomove-copy pomove-copy-verify cp-a+sync parallel-cp+sync floor", dl, " ")
  for (i in dl) durable[dl[i]] = 1
  for (gi = 1; gi <= ngroups; gi++) {
    g = gorder[gi]
    split(g, gp, SUBSEP)
    bk = g SUBSEP base[gp[3]]
    fk = g SUBSEP "floor"
    for (ti = 1; ti <= ntools; ti++) {
      k = g SUBSEP torder[ti]
      if ((k in med) && (bk in med) && med[k] > 0) ratio[k] = med[bk] / med[k]
      if (gp[3] == "copy" && (k in med) && (fk in med) && med[fk] > 0) xfloor[k] = med[k] / med[fk]
    }
  }

  # ---- Markdown ----
  md = out "/results.md"
  printf "# pomove benchmark results\n\n" > md
  printf "Measured %s on `%s`: %s, %s cores, %.1f GiB RAM, %s, data on %s. " \
    "pomove: %s. %s timed runs of each tool per workload and cache state, " \
    "tools in a shuffled order per run (seeded); median wall time, spread = " \
    "(max - min) / median, CV = standard deviation / mean, CPU = user + system " \
    "(median), peak RSS = largest process (median of runs, GNU time).%s\n\n",
    meta["date"], meta["host"],
    meta["cpu"], meta["cores"], meta["mem_kib"] / 1048576, meta["kernel"],
    meta["fs"], meta["pomove"], meta["runs"],
    meta["quick"] == 1 ? " **Quick mode: tiny sizes, figures mean nothing.**" : "" >> md
  if ("fs_mode" in meta) {
    printf "Protocol: DST on %s (%s), caches dropped before every run: %s, " \
      "warm runs re-read SRC with 8 readers first%s.\n\n",
      meta["fs_mode"] == "data" ? "the data directory" : "a scratch file system made afresh before every run",
      meta["dst_fs"], meta["drop_caches"],
      (meta["settle_s"] + 0 > 0) ? sprintf(", %s s wait after every removal of DST", meta["settle_s"]) : "" >> md
  } else {
    printf "Protocol: before issue 17 (DST removed before every run on the data directory'"'"'s file system, no wait, no cache drop for warm runs).\n\n" >> md
  }
  printf "Reproduce: `%s`\n\n", meta["command"] >> md
  printf "## Workloads\n\n| workload | files | directories | size | generated in |\n|---|---:|---:|---:|---:|\n" >> md
  for (i = 1; i <= nwl; i++) {
    wl = worder[i]
    if (wnote[wl] != "") { printf "| %s | %s | | | |\n", wl, wnote[wl] >> md; continue }
    printf "| %s | %d | %d | %s | %.1f s |\n", wl, wfiles[wl], wdirs[wl],
      human(wbytes[wl]), wgen[wl] >> md
  }
  for (pass = 1; pass <= 2; pass++) {
    kind = pass == 1 ? "copy" : "audit"
    any = 0
    for (gi = 1; gi <= ngroups; gi++) { split(gorder[gi], gp, SUBSEP); if (gp[3] == kind) any = 1 }
    if (!any) continue
    printf "\n## %s\n\nSpeed relative to `%s` (its median time divided by the tool'"'"'s): above 1 is faster.%s\n\n", kind == "copy" ? "Copies" : "Audits", basename[kind],
      kind == "copy" ? " / floor: the tool'"'"'s median time divided by the floor'"'"'s (pm_floor: create + write + syncfs, no reading, hashing or metadata); 1 is the floor. Tools marked * leave their data in the page cache (not durable when they return)." : "" >> md
    printf "| workload | cache | tool | median s | min - max s | spread | CV | x %s | / floor | CPU s | peak RSS MiB | runs ok |\n", basename[kind] >> md
    printf "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n" >> md
    for (gi = 1; gi <= ngroups; gi++) {
      g = gorder[gi]
      split(g, gp, SUBSEP)
      if (gp[3] != kind) continue
      for (ti = 1; ti <= ntools; ti++) {
        t = torder[ti]
        if (tkind[t] != kind) continue
        k = g SUBSEP t
        tn = (kind == "copy" && !(t in durable)) ? t "*" : t
        if (tavail[t] != "yes") {
          printf "| %s | %s | %s | not available: %s | | | | | | | | |\n", gp[1], gp[2], tn, tdetail[t] >> md
          continue
        }
        if (!(k in nr)) continue # not selected (--tools)
        if (!(k in med)) {
          printf "| %s | %s | %s | failed (see runs.log) | | | | | | | | %d/%d |\n", gp[1], gp[2], tn, nok[k], nr[k] >> md
          continue
        }
        printf "| %s | %s | %s | %.3f | %.3f - %.3f | %.1f%% | %.1f%% | %s | %s | %.2f | %s | %d/%d |\n",
          gp[1], gp[2], tn, med[k], wmin[k], wmax[k], spread[k], cv[k],
          (k in ratio) ? sprintf("%.2f", ratio[k]) : "-",
          (k in xfloor) ? sprintf("%.2f", xfloor[k]) : "-", cpu[k], mib(rssmed[k]),
          nok[k], nr[k] >> md
      }
    }
  }
  if (nf > 0) {
    printf "\n## Floor (pm_floor)\n\nCreate + write of every file from memory on %s threads, then one syncfs of DST'"'"'s file system.\n\n| workload | cache | run | create + write s | flush s | total s |\n|---|---|---:|---:|---:|---:|\n", meta["cores"] >> md
    for (i = 1; i <= nf; i++)
      printf "| %s | %s | %d | %.3f | %.3f | %.3f |\n", fw[i], fc[i], fr[i], fcw[i], ffl[i], ftot[i] >> md
  }
  if (ns > 0) {
    printf "\n## Scaling (tiny files, warm cache, one run each)\n\n| files | tool | wall s | CPU s | peak RSS MiB |\n|---:|---|---:|---:|---:|\n" >> md
    for (i = 1; i <= ns; i++) {
      if (sx[i] == "not available") { printf "| %d | %s | not available | | |\n", sf[i], st[i] >> md; continue }
      printf "| %d | %s | %.3f%s | %.2f | %s |\n", sf[i], st[i], sw[i],
        sx[i] == 0 ? "" : " (failed, exit " sx[i] ")", su[i] + ss[i], mib(sr[i]) >> md
    }
  }
  printf "\n## Commands\n\nSRC, DST and WORK stand for the workload'"'"'s source, destination and scratch directories.\n\n" >> md
  for (ti = 1; ti <= ntools; ti++) {
    t = torder[ti]
    if (tavail[t] == "yes") printf "- %s (%s): `%s`\n", t, tkind[t], tdetail[t] >> md
    else printf "- %s (%s): not available: %s\n", t, tkind[t], tdetail[t] >> md
  }
  printf "\nChart: results.svg; raw figures: results.json, runs.tsv; tool output: runs.log.\n" >> md
  close(md)

  # ---- JSON ----
  js = out "/results.json"
  printf "{\n  \"machine\": {" > js
  sep = ""
  split("date host cpu cores mem_kib kernel fs fs_mode dst_fs drop_caches settle_s loop_dio", mk, " ")
  for (i = 1; i in mk; i++) {
    v = meta[mk[i]]
    printf "%s%s: %s", sep, jstr(mk[i]), (mk[i] == "cores" || mk[i] == "mem_kib" || mk[i] == "settle_s") ? jnum(v) : jstr(v) >> js
    sep = ", "
  }
  printf "},\n  \"pomove\": %s,\n  \"runs\": %s,\n  \"quick\": %s,\n  \"caches\": %s,\n  \"gnu_time\": %s,\n  \"command\": %s,\n",
    jstr(meta["pomove"]), jnum(meta["runs"]), meta["quick"] == 1 ? "true" : "false",
    jstr(meta["caches"]), meta["gnu_time"] == "yes" ? "true" : "false", jstr(meta["command"]) >> js
  printf "  \"baselines\": {\"copy\": \"cp-a+sync\", \"audit\": \"xxh128sum-c\", \"floor\": \"floor\"},\n" >> js
  printf "  \"tools\": [" >> js
  for (ti = 1; ti <= ntools; ti++) {
    t = torder[ti]
    printf "%s\n    {\"tool\": %s, \"kind\": %s, \"available\": %s, %s: %s}", (ti > 1 ? "," : ""),
      jstr(t), jstr(tkind[t]), tavail[t] == "yes" ? "true" : "false",
      tavail[t] == "yes" ? "\"command\"" : "\"reason\"", jstr(tdetail[t]) >> js
  }
  printf "\n  ],\n  \"workloads\": [" >> js
  for (i = 1; i <= nwl; i++) {
    wl = worder[i]
    printf "%s\n    {\"workload\": %s, \"files\": %s, \"dirs\": %s, \"bytes\": %s, \"gen_seconds\": %s, \"note\": %s}",
      (i > 1 ? "," : ""), jstr(wl), jnum(wfiles[wl]), jnum(wdirs[wl]), jnum(wbytes[wl]),
      jnum(wgen[wl]), jstr(wnote[wl]) >> js
  }
  printf "\n  ],\n  \"results\": [" >> js
  first = 1
  for (gi = 1; gi <= ngroups; gi++) {
    g = gorder[gi]
    split(g, gp, SUBSEP)
    for (ti = 1; ti <= ntools; ti++) {
      t = torder[ti]
      k = g SUBSEP t
      if (tkind[t] != gp[3] || !(k in nr)) continue
      printf "%s\n    {\"workload\": %s, \"cache\": %s, \"kind\": %s, \"tool\": %s, \"baseline\": %s,\n",
        (first ? "" : ","), jstr(gp[1]), jstr(gp[2]), jstr(gp[3]), jstr(t), jstr(base[gp[3]]) >> js
      first = 0
      printf "     \"durable\": %s, \"median_s\": %s, \"min_s\": %s, \"max_s\": %s, \"spread_pct\": %s, \"cv_pct\": %s, \"ratio_to_baseline\": %s, \"time_over_floor\": %s, \"median_cpu_s\": %s, \"median_maxrss_kib\": %s, \"max_maxrss_kib\": %s,\n",
        (gp[3] == "copy" ? ((t in durable) ? "true" : "false") : "null"),
        jnum(med[k]), jnum(wmin[k]), jnum(wmax[k]), (k in med) ? sprintf("%.2f", spread[k]) : "null",
        (k in med) ? sprintf("%.2f", cv[k]) : "null",
        (k in ratio) ? sprintf("%.4f", ratio[k]) : "null", (k in xfloor) ? sprintf("%.4f", xfloor[k]) : "null",
        jnum(cpu[k]), jnum(rssmed[k]), jnum(rssmax[k]) >> js
      printf "     \"runs\": [" >> js
      for (i = 1; i <= nr[k]; i++)
        printf "%s{\"wall_s\": %s, \"user_s\": %s, \"sys_s\": %s, \"maxrss_kib\": %s, \"exit\": %s, \"ok\": %s}",
          (i > 1 ? ", " : ""), jnum(rw[k, i]), jnum(ru[k, i]), jnum(rs[k, i]), jnum(rr[k, i]),
          jnum(rx[k, i]), rok[k, i] == 1 ? "true" : "false" >> js
      printf "]}" >> js
    }
  }
  printf "\n  ],\n  \"floor\": [" >> js
  for (i = 1; i <= nf; i++)
    printf "%s\n    {\"workload\": %s, \"cache\": %s, \"run\": %s, \"create_write_s\": %s, \"flush_s\": %s, \"total_s\": %s}",
      (i > 1 ? "," : ""), jstr(fw[i]), jstr(fc[i]), jnum(fr[i]), jnum(fcw[i]), jnum(ffl[i]), jnum(ftot[i]) >> js
  printf "\n  ],\n  \"scaling\": [" >> js
  for (i = 1; i <= ns; i++) {
    if (sx[i] == "not available")
      printf "%s\n    {\"files\": %s, \"tool\": %s, \"available\": false}", (i > 1 ? "," : ""), jnum(sf[i]), jstr(st[i]) >> js
    else
      printf "%s\n    {\"files\": %s, \"tool\": %s, \"available\": true, \"wall_s\": %s, \"user_s\": %s, \"sys_s\": %s, \"maxrss_kib\": %s, \"exit\": %s}",
        (i > 1 ? "," : ""), jnum(sf[i]), jstr(st[i]), jnum(sw[i]), jnum(su[i]), jnum(ss[i]), jnum(sr[i]), jnum(sx[i]) >> js
  }
  printf "\n  ]\n}\n" >> js
  close(js)

  # ---- SVG: one group of bars per workload, cache and kind; bar height
  # is the speed relative to the baseline (1 = the baseline). ----
  palette = "#4e79a7 #f28e2b #e15759 #76b7b2 #59a14f #edc948 #b07aa1 #ff9da7 #9c755f #bab0ac #86bcb6 #d37295"
  split(palette, col, " ")
  ymax = 1
  for (k in ratio) if (ratio[k] > ymax) ymax = ratio[k]
  ymax = int(ymax + 0.999)
  if (ymax < 2) ymax = 2
  bw = 22; gap = 30; left = 60; top = 50; ph = 260
  x = left + gap
  nb = 0
  for (gi = 1; gi <= ngroups; gi++) {
    g = gorder[gi]
    split(g, gp, SUBSEP)
    gx[gi] = x; gn = 0
    for (ti = 1; ti <= ntools; ti++) {
      k = g SUBSEP torder[ti]
      if (tkind[torder[ti]] != gp[3] || !(k in ratio)) continue
      gn++
    }
    gw[gi] = gn * bw
    x += (gn > 0 ? gn * bw : bw) + gap
  }
  width = x + 20
  legend_y = top + ph + 70
  height = legend_y + 20 * int((ntools + 2) / 3) + 20
  svg = out "/results.svg"
  printf "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" > svg
  printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">\n", width, height, width, height >> svg
  printf "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", width, height >> svg
  printf "<text x=\"%d\" y=\"20\" font-size=\"14\" font-weight=\"bold\">%s</text>\n", left,
    xml("pomove benchmark: speed relative to cp -a; sync -f (copies) and xxh128sum -c (audits), medians") >> svg
  printf "<text x=\"%d\" y=\"36\">%s</text>\n", left,
    xml(meta["date"] " - " meta["cpu"] ", " meta["cores"] " cores - " meta["runs"] " runs" (meta["quick"] == 1 ? " - QUICK MODE" : "")) >> svg
  for (v = 0; v <= ymax; v++) {
    y = top + ph - ph * v / ymax
    printf "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"1\"/>\n",
      left, y, width - 20, y, v == 1 ? "#333333" : "#dddddd" >> svg
    printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%dx</text>\n", left - 6, y + 4, v >> svg
  }
  for (gi = 1; gi <= ngroups; gi++) {
    g = gorder[gi]
    split(g, gp, SUBSEP)
    bx = gx[gi]
    for (ti = 1; ti <= ntools; ti++) {
      t = torder[ti]
      k = g SUBSEP t
      if (tkind[t] != gp[3] || !(k in ratio)) continue
      h = ph * ratio[k] / ymax
      printf "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"%s\"><title>%s</title></rect>\n",
        bx, top + ph - h, bw - 3, h, col[(ti - 1) % 12 + 1],
        xml(t " " gp[1] " " gp[2] ": " sprintf("%.3f s, %.2fx", med[k], ratio[k])) >> svg
      printf "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"9\">%.2f</text>\n",
        bx + (bw - 3) / 2, top + ph - h - 3, ratio[k] >> svg
      bx += bw
    }
    cx = gx[gi] + (gw[gi] > 0 ? gw[gi] : bw) / 2
    printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", cx, top + ph + 16, xml(gp[1]) >> svg
    printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" fill=\"#555555\">%s</text>\n", cx, top + ph + 30, xml(gp[2] " " gp[3]) >> svg
  }
  for (ti = 1; ti <= ntools; ti++) {
    lx = left + ((ti - 1) % 3) * 260
    ly = legend_y + 20 * int((ti - 1) / 3)
    printf "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>\n", lx, ly - 10, col[(ti - 1) % 12 + 1] >> svg
    printf "<text x=\"%d\" y=\"%d\">%s</text>\n", lx + 18, ly, xml(torder[ti] (tavail[torder[ti]] == "yes" ? "" : " (not available)")) >> svg
  }
  printf "</svg>\n" >> svg
  close(svg)
}
' "$out/meta.tsv" "$out/tools.tsv" "$out/workloads.tsv" "$out/runs.tsv" "$floor_tsv" "$out/scaling.tsv"
