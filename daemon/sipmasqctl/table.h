/* A text table for sipmasqctl: rows of cells, columns as wide as their
 * widest cell, printed once complete (what `ss` or `ip -br` print). */
#ifndef SIPMASQCTL_TABLE_H
#define SIPMASQCTL_TABLE_H

#include <stdio.h>

struct table;

/* table_new: a table with ncols (1..32) columns and these headings
 * (copied). Returns NULL when out of memory or ncols is out of range. */
struct table *table_new(unsigned ncols, const char *const *headings);

/* table_add: one row of ncols cells (copied; NULL prints as "-").
 * Returns 0 or -ENOMEM. */
int table_add(struct table *t, const char *const *cells);

/* table_print: the headings and every row to f, columns separated by two
 * spaces, the last column not padded; then free the table. t may be NULL. */
void table_print(struct table *t, FILE *f);

#endif
