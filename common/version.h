#ifndef SQ_VERSION_H
#define SQ_VERSION_H
#ifndef SANDQ_VERSION
#define SANDQ_VERSION "0.1.0"
#endif
#endif
