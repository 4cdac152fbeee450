# equity_connect - PGXS build.
#
#   make && make install                   build and install into the PostgreSQL that pg_config names
#   make installcheck                      pg_regress + isolation suites on a throwaway instance
#   scripts/test.sh                        every suite (what CI runs); see README.md
#
# Sources, install-script pieces and tests are found by wildcard: adding a
# file under src/, schema/, sql/ or specs/ needs no change here.

EXTENSION = equity_connect
EXTVERSION = $(shell sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'/\1/p" $(EXTENSION).control)

MODULE_big = equity_connect
SRCS = $(sort $(wildcard src/*.c src/*/*.c))
OBJS = $(SRCS:.c=.o)

# The install script is built from one piece per concern (schema/NN_name.sql).
SCHEMA_PIECES = $(sort $(wildcard schema/[0-9]*.sql))
DATA_built = $(EXTENSION)--$(EXTVERSION).sql
DATA = $(wildcard schema/upgrade/$(EXTENSION)--*--*.sql)

REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --temp-instance=./tmp_check --temp-config=test/ec.conf
ISOLATION = $(patsubst specs/%.spec,%,$(sort $(wildcard specs/*.spec)))
ISOLATION_OPTS = --temp-instance=./tmp_check_iso --temp-config=test/ec.conf

PG_CPPFLAGS = -I$(srcdir)/src
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare
SHLIB_LINK = -lcurl -lcrypto
EXTRA_CLEAN = tmp_check tmp_check_iso output_iso results regression.diffs regression.out

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# (After the include, so that "all" stays the default goal.) PGXS tracks no header dependencies (autodepend is off): rebuild every object
# when any header changes, or a stale object keeps an old struct layout.
$(OBJS): $(wildcard src/*.h src/*/*.h)

$(EXTENSION)--$(EXTVERSION).sql: $(SCHEMA_PIECES) $(EXTENSION).control
	cat $(SCHEMA_PIECES) > $@

# The suites one at a time (scripts/test.sh counts them separately).
installcheck-regress: submake $(REGRESS_PREP)
	$(pg_regress_installcheck) $(REGRESS_OPTS) $(REGRESS)

installcheck-isolation: submake $(REGRESS_PREP)
	$(pg_isolation_regress_installcheck) $(ISOLATION_OPTS) $(ISOLATION)

.PHONY: installcheck-regress installcheck-isolation
