/*
 * bench_plot: latency and loss against offered load.
 *
 * Two ways, one picture: gnuplot renders a PNG when it is installed; without
 * it we write an HTML page with an inline SVG drawn here, which any browser
 * shows and which needs nothing installed.  Both have two panels over the
 * same x axis (offered packets/s): RTT p50/p99/p99.9 in ms on a log scale,
 * and loss in %,
 * with the sustained capacity marked by a dashed vertical line.
 */
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcasecmp(s + n - m, suffix);
}

static bool gnuplot_installed(void)
{
	const char *path = getenv("PATH");
	char buf[4096];

	if (!path)
		return false;
	while (*path) {
		size_t n = strcspn(path, ":");

		if (n && n < sizeof(buf) - 10) {
			memcpy(buf, path, n);
			memcpy(buf + n, "/gnuplot", sizeof("/gnuplot"));
			if (access(buf, X_OK) == 0)
				return true;
		}
		path += n;
		if (*path == ':')
			path++;
	}
	return false;
}

/* ---- gnuplot ----------------------------------------------------------------- */

static void gp_str(FILE *f, const char *s)
{
	/* gnuplot single-quoted string: a quote is written twice */
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputc('\'', f);
		fputc(*s, f);
	}
	fputc('\'', f);
}

static int plot_gnuplot(const char *path, const struct bench_opts *o, const struct bench_result *r)
{
	/* NOLINTNEXTLINE(cert-env33-c): a fixed command name, found on PATH as the user would */
	FILE *f = popen("gnuplot", "w");
	struct stat sb;
	int status;

	if (!f) {
		fprintf(stderr, "twamp-client bench: cannot run gnuplot: %s\n", strerror(errno));
		return -1;
	}
	unlink(path);
	fputs("set terminal png size 900,720\nset output ", f);
	gp_str(f, path);
	fprintf(f, "\nset datafile missing '?'\nset grid\nset key top left\n"
		   "set multiplot layout 2,1 title 'twamp-client bench: %s mode, %d target(s), %.3g s per step'\n",
		bench_mode_name(o->tmpl.mode), o->ntargets, o->hold / 1e9);
	fputs("$d << EOD\n", f);
	for (uint32_t i = 0; i < r->nsteps; i++) {
		const struct bench_step *s = &r->steps[i];

		if (s->rtt_valid)
			fprintf(f, "%.3f %.6f %.6f %.6f %.6f\n", s->offered_pps, s->rtt_p50 / 1e6, s->rtt_p99 / 1e6,
				s->rtt_p999 / 1e6, s->loss_pct);
		else
			fprintf(f, "%.3f ? ? ? %.6f\n", s->offered_pps, s->loss_pct);
	}
	fputs("EOD\n", f);
	if (r->sustained >= 0) {
		double x = r->steps[r->sustained].offered_pps;

		fprintf(f, "set arrow 1 from %.3f, graph 0 to %.3f, graph 1 nohead dashtype 2 lc rgb '#555555'\n"
			   "set label 1 'sustained' at %.3f, graph 0.92 right offset -0.5,0\n", x, x, x);
	}
	fputs("set xrange [0:*]\nset logscale y\nset xlabel 'offered load (packets/s)'\n"
	      "set ylabel 'RTT (ms, log scale)'\n"
	      "plot $d using 1:2 with linespoints lw 2 title 'RTT p50', "
	      "'' using 1:3 with linespoints lw 2 title 'RTT p99', "
	      "'' using 1:4 with linespoints lw 2 title 'RTT p99.9'\n"
	      "unset logscale y\nset yrange [0:1<*]\nset ylabel 'loss (%)'\n"
	      "plot $d using 1:5 with linespoints lw 2 lc rgb '#c0392b' title 'loss'\n"
	      "unset multiplot\n", f);
	status = pclose(f);
	if (status != 0 || stat(path, &sb) < 0 || sb.st_size == 0) {
		fprintf(stderr, "twamp-client bench: gnuplot failed (status %d): no %s\n", status, path);
		return -1;
	}
	return 0;
}

/* ---- our own SVG ------------------------------------------------------------- */

static void xml(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

/* A round tick step giving about five intervals over [0, max]. */
static double tick_step(double max)
{
	double raw, mag, m;

	if (!(max > 0))
		return 1;
	raw = max / 5;
	mag = pow(10, floor(log10(raw)));
	m = raw / mag;
	return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * mag;
}

struct series {
	const char *name;
	const char *color;
	int which;      /* 0 p50, 1 p99, 2 p99.9, 3 loss */
};

static bool series_value(const struct bench_step *s, int which, double *v)
{
	switch (which) {
	case 0: *v = s->rtt_p50 / 1e6; return s->rtt_valid;
	case 1: *v = s->rtt_p99 / 1e6; return s->rtt_valid;
	case 2: *v = s->rtt_p999 / 1e6; return s->rtt_valid;
	default: *v = s->loss_pct; return true;
	}
}

static void fmt_tick(char *buf, size_t cap, double v, double step)
{
	if (step >= 1)
		snprintf(buf, cap, "%.0f", v);
	else
		snprintf(buf, cap, "%.*f", (int)ceil(-log10(step)), v);
}

/*
 * One panel: axes, ticks, grid, the series as polylines with markers.  With
 * logy the y axis has one tick per decade: RTT under overload grows by orders
 * of magnitude, which a linear axis would flatten to zero at low load.
 */
static void svg_panel(FILE *f, const struct bench_result *r, double top, const char *ylabel,
		      const struct series *ser, int nser, double xmax, bool logy)
{
	const double left = 80, width = 780, height = 250;
	double ymin = 0, ymax = 0, xs, yt = 1, xt, lo = 0, hi = 1;
	bool any = false;
	char buf[64];

	for (uint32_t i = 0; i < r->nsteps; i++)
		for (int k = 0; k < nser; k++) {
			double v;

			if (!series_value(&r->steps[i], ser[k].which, &v) || (logy && !(v > 0)))
				continue;
			if (!any || v > ymax)
				ymax = v;
			if (!any || v < ymin)
				ymin = v;
			any = true;
		}
	if (logy) {
		lo = any ? floor(log10(ymin)) : -3;
		hi = any ? ceil(log10(ymax)) : 0;
		if (hi <= lo)
			hi = lo + 1;
	} else {
		yt = tick_step(ymax > 0 ? ymax : 1);
		lo = 0;
		hi = ceil((ymax > 0 ? ymax : 1) / yt) * yt;
	}
	xt = tick_step(xmax);
	xmax = ceil(xmax / xt) * xt;
	xs = width / xmax;
#define YPOS(v) (top + height - ((logy ? log10(v) : (v)) - lo) * height / (hi - lo))

	fprintf(f, "<g font-family=\"sans-serif\" font-size=\"12\">\n");
	fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fff\" stroke=\"#333\"/>\n",
		left, top, width, height);
	if (logy) {
		for (int i = 0; lo + i <= hi + 0.5; i++) {
			double e = lo + i, py = YPOS(pow(10, e));

			snprintf(buf, sizeof(buf), "%g", pow(10, e));
			fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
				   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
				left, py, left + width, py, left - 6, py + 4, buf);
		}
	} else {
		for (int i = 0; i * yt <= hi + yt / 2; i++) {
			double y = i * yt, py = YPOS(y);

			fmt_tick(buf, sizeof(buf), y, yt);
			fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
				   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
				left, py, left + width, py, left - 6, py + 4, buf);
		}
	}
	for (int i = 0; i * xt <= xmax + xt / 2; i++) {
		double x = i * xt, px = left + x * xs;

		fmt_tick(buf, sizeof(buf), x, xt);
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
			   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
			px, top, px, top + height, px, top + height + 16, buf);
	}
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 %.1f %.1f)\">",
		left - 55, top + height / 2, left - 55, top + height / 2);
	xml(f, ylabel);
	fprintf(f, "</text>\n<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">offered load (packets/s)</text>\n",
		left + width / 2, top + height + 34);
	if (r->sustained >= 0) {
		double px = left + r->steps[r->sustained].offered_pps * xs;

		fprintf(f, "<line class=\"sustained\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\" "
			   "stroke-dasharray=\"6 4\"/><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">sustained</text>\n",
			px, top, px, top + height, px - 4, top + 14);
	}
	for (int k = 0; k < nser; k++) {
		bool open = false;

		for (uint32_t i = 0; i < r->nsteps; i++) {
			double v;

			if (!series_value(&r->steps[i], ser[k].which, &v) || (logy && !(v > 0))) {
				if (open)
					fputs("\"/>\n", f);
				open = false;
				continue;
			}
			if (!open)
				fprintf(f, "<polyline class=\"series\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
					ser[k].color);
			open = true;
			fprintf(f, "%.1f,%.1f ", left + r->steps[i].offered_pps * xs, YPOS(v));
		}
		if (open)
			fputs("\"/>\n", f);
		for (uint32_t i = 0; i < r->nsteps; i++) {
			const struct bench_step *s = &r->steps[i];
			double v;

			if (!series_value(s, ser[k].which, &v) || (logy && !(v > 0)))
				continue;
			fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"><title>step %u: %u sessions, "
				   "%.0f packets/s offered: %s %.3f</title></circle>\n",
				left + s->offered_pps * xs, YPOS(v), ser[k].color, s->index, s->sessions,
				s->offered_pps, ser[k].name, v);
		}
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"4\" fill=\"%s\"/>"
			   "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
			left + 10, top + 12 + 16.0 * k, ser[k].color, left + 28, top + 18 + 16.0 * k, ser[k].name);
	}
#undef YPOS
	fputs("</g>\n", f);
}

/* The figure alone: a standalone SVG document, also inlined in the HTML page. */
static void svg_figure(FILE *f, const struct bench_result *r)
{
	static const struct series rtt[] = {
		{ "RTT p50 (ms)", "#2471a3", 0 },
		{ "RTT p99 (ms)", "#d68910", 1 },
		{ "RTT p99.9 (ms)", "#7d3c98", 2 },
	};
	static const struct series loss[] = { { "loss (%)", "#c0392b", 3 } };
	double xmax = 0;

	for (uint32_t i = 0; i < r->nsteps; i++)
		if (r->steps[i].offered_pps > xmax)
			xmax = r->steps[i].offered_pps;
	if (!(xmax > 0))
		xmax = 1;
	fputs("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" height=\"660\" viewBox=\"0 0 900 660\">\n", f);
	svg_panel(f, r, 20, "RTT (ms, log scale)", rtt, 3, xmax, true);
	svg_panel(f, r, 350, "loss (%)", loss, 1, xmax, false);
	fputs("</svg>\n", f);
}

void bench_plot_html(FILE *f, const struct bench_opts *o, const struct bench_result *r)
{
	fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>twamp-client bench</title></head>\n"
	      "<body style=\"font-family:sans-serif\">\n<h1>twamp-client bench</h1>\n<p>", f);
	fprintf(f, "%s mode, %.3g s per step, target(s): ", bench_mode_name(o->tmpl.mode), o->hold / 1e9);
	for (int i = 0; i < o->ntargets; i++) {
		xml(f, o->target_name[i]);
		fputs(i + 1 < o->ntargets ? ", " : "", f);
	}
	fputs("<br>stopped: ", f);
	xml(f, r->stop_reason);
	if (r->sustained >= 0)
		fprintf(f, "<br>sustained capacity: %u sessions, %.0f packets/s", r->steps[r->sustained].sessions,
			r->steps[r->sustained].achieved_pps);
	else
		fputs("<br>sustained capacity: no step met the thresholds", f);
	fputs("</p>\n", f);
	svg_figure(f, r);
	fputs("</body></html>\n", f);
}

const char *bench_plot_file(const char *path, char *written, size_t cap)
{
	bool own = ends_with(path, ".html") || ends_with(path, ".htm") || ends_with(path, ".svg");
	const char *dot, *slash;

	snprintf(written, cap, "%s", path);
	if (!own && !gnuplot_installed()) {
		/* x.png -> x.html; a name without an extension gets .html added */
		dot = strrchr(path, '.');
		slash = strrchr(path, '/');
		if (dot && (!slash || dot > slash))
			snprintf(written, cap, "%.*s.html", (int)(dot - path), path);
		else
			snprintf(written, cap, "%s.html", path);
	}
	return written;
}

int bench_plot(const char *path, const struct bench_opts *o, const struct bench_result *r,
	       char *written, size_t cap)
{
	bool own = ends_with(path, ".html") || ends_with(path, ".htm") || ends_with(path, ".svg");
	FILE *f;

	if (!own && gnuplot_installed()) {
		snprintf(written, cap, "%s", path);
		return plot_gnuplot(path, o, r);
	}
	bench_plot_file(path, written, cap);
	f = fopen(written, "w");
	if (!f) {
		fprintf(stderr, "twamp-client bench: cannot write %s: %s\n", written, strerror(errno));
		return -1;
	}
	if (ends_with(written, ".svg"))
		svg_figure(f, r);
	else
		bench_plot_html(f, o, r);
	if (ferror(f) | fclose(f)) {
		fprintf(stderr, "twamp-client bench: error writing %s\n", written);
		return -1;
	}
	return 0;
}
