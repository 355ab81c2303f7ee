// libpq, owned by the TesseraPostgres target.
#include <libpq-fe.h>
