/* Text tables of sipmasqctl (table.h). */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/sipmasqctl/table.h"

struct table {
	unsigned ncols, nrows, cap;
	char **cells;   /* (nrows + 1) * ncols: row 0 holds the headings */
};

static int table_push(struct table *t, const char *const *cells)
{
	if (t->nrows + 1 >= t->cap) {
		unsigned cap = t->cap ? 2 * t->cap : 16;
		char **p = realloc(t->cells, (size_t)cap * t->ncols * sizeof(*p));

		if (!p)
			return -ENOMEM;
		t->cells = p;
		t->cap = cap;
	}
	char **row = t->cells + (size_t)t->nrows * t->ncols;

	for (unsigned i = 0; i < t->ncols; i++)
		row[i] = strdup(cells[i] ? cells[i] : "-");
	for (unsigned i = 0; i < t->ncols; i++)
		if (!row[i]) {
			for (unsigned k = 0; k < t->ncols; k++)
				free(row[k]);
			return -ENOMEM;
		}
	t->nrows++;
	return 0;
}

struct table *table_new(unsigned ncols, const char *const *headings)
{
	struct table *t = ncols && ncols <= 32 ? calloc(1, sizeof(*t)) : NULL;

	if (!t)
		return NULL;
	t->ncols = ncols;
	if (table_push(t, headings)) {
		free(t);
		return NULL;
	}
	return t;
}

int table_add(struct table *t, const char *const *cells)
{
	return table_push(t, cells);
}

void table_print(struct table *t, FILE *f)
{
	size_t width[32] = { 0 };

	if (!t)
		return;
	for (unsigned r = 0; r < t->nrows; r++)
		for (unsigned c = 0; c < t->ncols; c++) {
			size_t w = strlen(t->cells[(size_t)r * t->ncols + c]);

			if (w > width[c])
				width[c] = w;
		}
	for (unsigned r = 0; r < t->nrows; r++) {
		for (unsigned c = 0; c < t->ncols; c++) {
			const char *cell = t->cells[(size_t)r * t->ncols + c];

			if (c + 1 == t->ncols)
				fprintf(f, "%s\n", cell);
			else
				fprintf(f, "%-*s  ", (int)width[c], cell);
		}
	}
	for (size_t i = 0; i < (size_t)t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}
