/*
 * minilang: the large benchmark program. A complete little scripting language -- lexer,
 * parser to an abstract syntax tree, a resolver for scopes, a constant folder, a bytecode
 * compiler with a peephole pass, and a stack-based virtual machine with arrays -- that
 * compiles and runs an embedded script (SCRIPT below) on every call.
 *
 * bench_minilang(n) compiles the script from source, then calls its `main(n)`; the script
 * runs a mix of workloads (recursion, a sieve, sorting, n-queens, string-free text hashing,
 * matrix products, a tiny bytecode machine of its own) scaled by n. So one call measures both
 * a "compile" phase (a few hundred lines of script) and a "run" phase.
 *
 * The C code is large on purpose: it exercises the compile time of the PVM/wasm/native
 * toolchains and of the VM's own loader/JIT as much as the run time.
 *
 * Checksum: the script's result. Errors (which would be a bug) return 0xdead000000000000 +
 * a code: 1xxxxx for a syntax error at line xxxxx, 2xxxxx for a compile error, 3xxxxx for a
 * runtime error.
 *
 * Memory: about 3 MiB of static arrays (AST node pool, bytecode, value stack, heap for arrays).
 * Stack: the parser and compiler recurse along the syntax tree (the script nests a few levels
 * deep), so 64 KiB of stack is plenty; the script's own calls use the VM's value stack.
 *
 * Semantics are fully defined (wrapping 64-bit arithmetic, shifts masked to 0..63, division
 * truncating with x / 0 an error and INT64_MIN / -1 = INT64_MIN), so every target computes the
 * same checksum.
 */
#include "bench_util.h"

PVM_MIN_STACK_SIZE(65536);

/* ======================================================================================== */
/* Limits and error handling                                                                */
/* ======================================================================================== */

#define MAX_TOKENS 16384
#define MAX_NODES 32768
#define MAX_CODE 65536
#define MAX_CONSTANTS 1024
#define MAX_FUNCTIONS 128
#define MAX_GLOBALS 128
#define MAX_LOCALS 64
#define MAX_NAMES 512
#define MAX_NAME_LENGTH 32
#define MAX_STACK 65536
#define MAX_FRAMES 1024
#define HEAP_WORDS (256 * 1024)
#define MAX_ARRAYS 4096
#define MAX_LOOP_DEPTH 32
#define MAX_JUMPS_PER_LOOP 64

#define ERROR_BASE 0xdead000000000000ull
#define ERROR_SYNTAX 100000u
#define ERROR_COMPILE 200000u
#define ERROR_RUNTIME 300000u

/* The first error wins; later stages check `failed` and stop. */
static int failed;
static uint64_t error_code;

static void fail(uint32_t kind, uint32_t detail)
{
    if (!failed) {
        failed = 1;
        error_code = ERROR_BASE + kind + (detail % 100000u);
    }
}

/* ======================================================================================== */
/* Character classes and small string helpers (no C library beyond mem*)                    */
/* ======================================================================================== */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_hex_digit(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int hex_value(char c)
{
    if (is_digit(c)) {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return c - 'A' + 10;
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_alnum(char c)
{
    return is_alpha(c) || is_digit(c);
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int text_equals(const char *a, size_t a_length, const char *b)
{
    size_t i = 0;
    for (; i < a_length; i++) {
        if (b[i] == '\0' || a[i] != b[i]) {
            return 0;
        }
    }
    return b[i] == '\0';
}

/* ======================================================================================== */
/* Names: identifiers interned into small integers                                          */
/* ======================================================================================== */

static char name_text[MAX_NAMES][MAX_NAME_LENGTH];
static uint8_t name_length[MAX_NAMES];
static uint32_t name_hash_of[MAX_NAMES];
static int name_count;
static int16_t name_table[1024]; /* open addressing, -1 = empty */

static uint32_t hash_text(const char *text, size_t length)
{
    uint32_t hash = 2166136261u;
    for (size_t i = 0; i < length; i++) {
        hash ^= (uint8_t)text[i];
        hash *= 16777619u;
    }
    return hash;
}

static void names_reset(void)
{
    name_count = 0;
    for (int i = 0; i < 1024; i++) {
        name_table[i] = -1;
    }
}

static int intern(const char *text, size_t length, int line)
{
    if (length >= MAX_NAME_LENGTH) {
        fail(ERROR_SYNTAX, (uint32_t)line);
        return 0;
    }
    uint32_t hash = hash_text(text, length);
    uint32_t slot = hash & 1023u;
    for (;;) {
        int16_t index = name_table[slot];
        if (index < 0) {
            break;
        }
        if (name_hash_of[index] == hash && name_length[index] == length &&
            memcmp(name_text[index], text, length) == 0) {
            return index;
        }
        slot = (slot + 1) & 1023u;
    }
    if (name_count >= MAX_NAMES) {
        fail(ERROR_SYNTAX, (uint32_t)line);
        return 0;
    }
    int index = name_count++;
    memcpy(name_text[index], text, length);
    name_text[index][length] = '\0';
    name_length[index] = (uint8_t)length;
    name_hash_of[index] = hash;
    name_table[slot] = (int16_t)index;
    return index;
}

/* ======================================================================================== */
/* Lexer                                                                                    */
/* ======================================================================================== */

typedef enum {
    T_EOF,
    T_NUMBER,
    T_NAME,
    /* keywords */
    T_FN,
    T_VAR,
    T_IF,
    T_ELSE,
    T_WHILE,
    T_FOR,
    T_BREAK,
    T_CONTINUE,
    T_RETURN,
    T_TRUE,
    T_FALSE,
    T_NIL,
    /* punctuation */
    T_LPAREN,
    T_RPAREN,
    T_LBRACE,
    T_RBRACE,
    T_LBRACKET,
    T_RBRACKET,
    T_COMMA,
    T_SEMICOLON,
    T_ASSIGN,
    T_PLUS_ASSIGN,
    T_MINUS_ASSIGN,
    T_STAR_ASSIGN,
    T_SLASH_ASSIGN,
    T_PERCENT_ASSIGN,
    T_AMP_ASSIGN,
    T_PIPE_ASSIGN,
    T_CARET_ASSIGN,
    T_SHL_ASSIGN,
    T_SHR_ASSIGN,
    T_PLUS,
    T_MINUS,
    T_STAR,
    T_SLASH,
    T_PERCENT,
    T_AMP,
    T_PIPE,
    T_CARET,
    T_TILDE,
    T_BANG,
    T_SHL,
    T_SHR,
    T_LT,
    T_LE,
    T_GT,
    T_GE,
    T_EQ,
    T_NE,
    T_AND_AND,
    T_OR_OR,
    T_QUESTION,
    T_COLON,
} TokenKind;

typedef struct {
    uint8_t kind;
    uint16_t line;
    int32_t name;  /* T_NAME */
    int64_t value; /* T_NUMBER */
} Token;

static Token tokens[MAX_TOKENS];
static int token_count;

static const struct {
    const char *text;
    TokenKind kind;
} keywords[] = {
    {"fn", T_FN},         {"var", T_VAR},     {"if", T_IF},         {"else", T_ELSE},
    {"while", T_WHILE},   {"for", T_FOR},     {"break", T_BREAK},   {"continue", T_CONTINUE},
    {"return", T_RETURN}, {"true", T_TRUE},   {"false", T_FALSE},   {"nil", T_NIL},
};

static void push_token(TokenKind kind, int line, int name, int64_t value)
{
    if (token_count >= MAX_TOKENS) {
        fail(ERROR_SYNTAX, (uint32_t)line);
        return;
    }
    Token *token = &tokens[token_count++];
    token->kind = (uint8_t)kind;
    token->line = (uint16_t)line;
    token->name = name;
    token->value = value;
}

/* Matches a two- or three-character operator at `p`; returns its length or 0. */
static int match_operator(const char *p, TokenKind *kind)
{
    static const struct {
        const char *text;
        TokenKind kind;
    } operators[] = {
        {"<<=", T_SHL_ASSIGN}, {">>=", T_SHR_ASSIGN}, {"+=", T_PLUS_ASSIGN},
        {"-=", T_MINUS_ASSIGN}, {"*=", T_STAR_ASSIGN}, {"/=", T_SLASH_ASSIGN},
        {"%=", T_PERCENT_ASSIGN}, {"&=", T_AMP_ASSIGN}, {"|=", T_PIPE_ASSIGN},
        {"^=", T_CARET_ASSIGN}, {"<<", T_SHL},         {">>", T_SHR},
        {"<=", T_LE},          {">=", T_GE},          {"==", T_EQ},
        {"!=", T_NE},          {"&&", T_AND_AND},     {"||", T_OR_OR},
    };
    for (size_t i = 0; i < sizeof(operators) / sizeof(operators[0]); i++) {
        const char *text = operators[i].text;
        size_t length = 0;
        while (text[length] != '\0' && p[length] == text[length]) {
            length++;
        }
        if (text[length] == '\0') {
            *kind = operators[i].kind;
            return (int)length;
        }
    }
    switch (*p) {
    case '(': *kind = T_LPAREN; return 1;
    case ')': *kind = T_RPAREN; return 1;
    case '{': *kind = T_LBRACE; return 1;
    case '}': *kind = T_RBRACE; return 1;
    case '[': *kind = T_LBRACKET; return 1;
    case ']': *kind = T_RBRACKET; return 1;
    case ',': *kind = T_COMMA; return 1;
    case ';': *kind = T_SEMICOLON; return 1;
    case '=': *kind = T_ASSIGN; return 1;
    case '+': *kind = T_PLUS; return 1;
    case '-': *kind = T_MINUS; return 1;
    case '*': *kind = T_STAR; return 1;
    case '/': *kind = T_SLASH; return 1;
    case '%': *kind = T_PERCENT; return 1;
    case '&': *kind = T_AMP; return 1;
    case '|': *kind = T_PIPE; return 1;
    case '^': *kind = T_CARET; return 1;
    case '~': *kind = T_TILDE; return 1;
    case '!': *kind = T_BANG; return 1;
    case '<': *kind = T_LT; return 1;
    case '>': *kind = T_GT; return 1;
    case '?': *kind = T_QUESTION; return 1;
    case ':': *kind = T_COLON; return 1;
    default: return 0;
    }
}

static void lex(const char *source)
{
    token_count = 0;
    int line = 1;
    const char *p = source;
    while (!failed) {
        while (is_space(*p) || (p[0] == '/' && p[1] == '/')) {
            if (p[0] == '/') {
                while (*p != '\0' && *p != '\n') {
                    p++;
                }
                continue;
            }
            if (*p == '\n') {
                line++;
            }
            p++;
        }
        if (*p == '\0') {
            push_token(T_EOF, line, 0, 0);
            return;
        }
        if (is_digit(*p)) {
            uint64_t value = 0;
            if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
                p += 2;
                if (!is_hex_digit(*p)) {
                    fail(ERROR_SYNTAX, (uint32_t)line);
                    return;
                }
                while (is_hex_digit(*p)) {
                    value = value * 16 + (uint64_t)hex_value(*p++);
                }
            } else {
                while (is_digit(*p)) {
                    value = value * 10 + (uint64_t)(*p++ - '0');
                }
            }
            if (is_alpha(*p)) {
                fail(ERROR_SYNTAX, (uint32_t)line);
                return;
            }
            push_token(T_NUMBER, line, 0, (int64_t)value);
            continue;
        }
        if (is_alpha(*p)) {
            const char *start = p;
            while (is_alnum(*p)) {
                p++;
            }
            size_t length = (size_t)(p - start);
            TokenKind kind = T_NAME;
            for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++) {
                if (text_equals(start, length, keywords[i].text)) {
                    kind = keywords[i].kind;
                    break;
                }
            }
            if (kind == T_NAME) {
                push_token(T_NAME, line, intern(start, length, line), 0);
            } else {
                push_token(kind, line, 0, 0);
            }
            continue;
        }
        if (*p == '\'') {
            /* A character literal is a number: 'a' == 97. */
            if (p[1] == '\0' || p[2] != '\'') {
                fail(ERROR_SYNTAX, (uint32_t)line);
                return;
            }
            push_token(T_NUMBER, line, 0, (uint8_t)p[1]);
            p += 3;
            continue;
        }
        TokenKind kind;
        int length = match_operator(p, &kind);
        if (length == 0) {
            fail(ERROR_SYNTAX, (uint32_t)line);
            return;
        }
        push_token(kind, line, 0, 0);
        p += length;
    }
}

/* ======================================================================================== */
/* Syntax tree                                                                               */
/* ======================================================================================== */

typedef enum {
    /* expressions */
    N_NUMBER,
    N_NIL,
    N_NAME,
    N_ARRAY_LITERAL, /* a = first element (linked through `next`) */
    N_INDEX,         /* a[b] */
    N_CALL,          /* a(b...) */
    N_UNARY,         /* op a */
    N_BINARY,        /* a op b */
    N_AND,           /* a && b */
    N_OR,            /* a || b */
    N_CONDITIONAL,   /* a ? b : c */
    N_ASSIGN,        /* a op= b (op = T_ASSIGN for plain) */
    /* statements */
    N_EXPRESSION,
    N_VAR,           /* var name = a */
    N_BLOCK,         /* a = first statement */
    N_IF,            /* if (a) b else c */
    N_WHILE,         /* while (a) b */
    N_FOR,           /* for (a; b; c) d */
    N_BREAK,
    N_CONTINUE,
    N_RETURN,        /* return a */
    N_FUNCTION,      /* fn name(params) body: a = first param (N_NAME), b = body */
} NodeKind;

typedef struct {
    uint8_t kind;
    uint8_t op;     /* a TokenKind for operators */
    uint16_t line;
    int32_t name;   /* N_NAME, N_VAR, N_FUNCTION */
    int32_t a, b, c, d;
    int32_t next;   /* the next element in a list, or -1 */
    int64_t value;  /* N_NUMBER */
} Node;

static Node nodes[MAX_NODES];
static int node_count;

static int new_node(NodeKind kind, int line)
{
    if (node_count >= MAX_NODES) {
        fail(ERROR_SYNTAX, (uint32_t)line);
        return 0;
    }
    int index = node_count++;
    Node *node = &nodes[index];
    node->kind = (uint8_t)kind;
    node->op = 0;
    node->line = (uint16_t)line;
    node->name = -1;
    node->a = node->b = node->c = node->d = -1;
    node->next = -1;
    node->value = 0;
    return index;
}

/* ======================================================================================== */
/* Parser: recursive descent, precedence climbing for binary operators                      */
/* ======================================================================================== */

static int position;

static Token *peek(void)
{
    return &tokens[position];
}

static int check(TokenKind kind)
{
    return tokens[position].kind == kind;
}

static int accept(TokenKind kind)
{
    if (check(kind)) {
        if (kind != T_EOF) {
            position++;
        }
        return 1;
    }
    return 0;
}

static void expect(TokenKind kind)
{
    if (!accept(kind)) {
        fail(ERROR_SYNTAX, peek()->line);
    }
}

static int parse_expression(void);
static int parse_statement(void);

/* Binary operator precedence (higher binds tighter); 0 = not a binary operator. */
static int precedence(TokenKind kind)
{
    switch (kind) {
    case T_OR_OR: return 1;
    case T_AND_AND: return 2;
    case T_PIPE: return 3;
    case T_CARET: return 4;
    case T_AMP: return 5;
    case T_EQ:
    case T_NE: return 6;
    case T_LT:
    case T_LE:
    case T_GT:
    case T_GE: return 7;
    case T_SHL:
    case T_SHR: return 8;
    case T_PLUS:
    case T_MINUS: return 9;
    case T_STAR:
    case T_SLASH:
    case T_PERCENT: return 10;
    default: return 0;
    }
}

static int parse_arguments(TokenKind closing)
{
    int first = -1, last = -1;
    if (!check(closing)) {
        do {
            int argument = parse_expression();
            if (failed) {
                return -1;
            }
            if (last < 0) {
                first = argument;
            } else {
                nodes[last].next = argument;
            }
            last = argument;
        } while (accept(T_COMMA));
    }
    expect(closing);
    return first;
}

static int parse_primary(void)
{
    Token *token = peek();
    int line = token->line;
    if (accept(T_NUMBER)) {
        int node = new_node(N_NUMBER, line);
        nodes[node].value = token->value;
        return node;
    }
    if (accept(T_TRUE)) {
        int node = new_node(N_NUMBER, line);
        nodes[node].value = 1;
        return node;
    }
    if (accept(T_FALSE)) {
        int node = new_node(N_NUMBER, line);
        nodes[node].value = 0;
        return node;
    }
    if (accept(T_NIL)) {
        return new_node(N_NIL, line);
    }
    if (accept(T_NAME)) {
        int node = new_node(N_NAME, line);
        nodes[node].name = token->name;
        return node;
    }
    if (accept(T_LPAREN)) {
        int inner = parse_expression();
        expect(T_RPAREN);
        return inner;
    }
    if (accept(T_LBRACKET)) {
        int node = new_node(N_ARRAY_LITERAL, line);
        nodes[node].a = parse_arguments(T_RBRACKET);
        return node;
    }
    fail(ERROR_SYNTAX, (uint32_t)line);
    return 0;
}

static int parse_postfix(void)
{
    int node = parse_primary();
    while (!failed) {
        int line = peek()->line;
        if (accept(T_LPAREN)) {
            int call = new_node(N_CALL, line);
            nodes[call].a = node;
            nodes[call].b = parse_arguments(T_RPAREN);
            node = call;
        } else if (accept(T_LBRACKET)) {
            int index = new_node(N_INDEX, line);
            nodes[index].a = node;
            nodes[index].b = parse_expression();
            expect(T_RBRACKET);
            node = index;
        } else {
            break;
        }
    }
    return node;
}

static int parse_unary(void)
{
    Token *token = peek();
    if (token->kind == T_MINUS || token->kind == T_BANG || token->kind == T_TILDE) {
        int line = token->line;
        TokenKind op = (TokenKind)token->kind;
        position++;
        int node = new_node(N_UNARY, line);
        nodes[node].op = (uint8_t)op;
        nodes[node].a = parse_unary();
        return node;
    }
    return parse_postfix();
}

static int parse_binary(int min_precedence)
{
    int left = parse_unary();
    while (!failed) {
        TokenKind op = (TokenKind)peek()->kind;
        int p = precedence(op);
        if (p == 0 || p < min_precedence) {
            break;
        }
        int line = peek()->line;
        position++;
        int right = parse_binary(p + 1);
        NodeKind kind = op == T_AND_AND ? N_AND : op == T_OR_OR ? N_OR : N_BINARY;
        int node = new_node(kind, line);
        nodes[node].op = (uint8_t)op;
        nodes[node].a = left;
        nodes[node].b = right;
        left = node;
    }
    return left;
}

static int parse_conditional(void)
{
    int condition = parse_binary(1);
    if (check(T_QUESTION)) {
        int line = peek()->line;
        position++;
        int node = new_node(N_CONDITIONAL, line);
        nodes[node].a = condition;
        nodes[node].b = parse_expression();
        expect(T_COLON);
        nodes[node].c = parse_conditional();
        return node;
    }
    return condition;
}

static int is_assignment(TokenKind kind)
{
    switch (kind) {
    case T_ASSIGN:
    case T_PLUS_ASSIGN:
    case T_MINUS_ASSIGN:
    case T_STAR_ASSIGN:
    case T_SLASH_ASSIGN:
    case T_PERCENT_ASSIGN:
    case T_AMP_ASSIGN:
    case T_PIPE_ASSIGN:
    case T_CARET_ASSIGN:
    case T_SHL_ASSIGN:
    case T_SHR_ASSIGN: return 1;
    default: return 0;
    }
}

static int parse_expression(void)
{
    int target = parse_conditional();
    TokenKind op = (TokenKind)peek()->kind;
    if (!failed && is_assignment(op)) {
        int line = peek()->line;
        NodeKind target_kind = (NodeKind)nodes[target].kind;
        if (target_kind != N_NAME && target_kind != N_INDEX) {
            fail(ERROR_SYNTAX, (uint32_t)line);
            return 0;
        }
        position++;
        int node = new_node(N_ASSIGN, line);
        nodes[node].op = (uint8_t)op;
        nodes[node].a = target;
        nodes[node].b = parse_expression(); /* right associative */
        return node;
    }
    return target;
}

static int parse_block(void)
{
    int line = peek()->line;
    expect(T_LBRACE);
    int block = new_node(N_BLOCK, line);
    int last = -1;
    while (!failed && !check(T_RBRACE) && !check(T_EOF)) {
        int statement = parse_statement();
        if (last < 0) {
            nodes[block].a = statement;
        } else {
            nodes[last].next = statement;
        }
        last = statement;
    }
    expect(T_RBRACE);
    return block;
}

static int parse_var(void)
{
    int line = peek()->line;
    expect(T_VAR);
    Token *name = peek();
    expect(T_NAME);
    int node = new_node(N_VAR, line);
    nodes[node].name = name->name;
    if (accept(T_ASSIGN)) {
        nodes[node].a = parse_expression();
    }
    return node;
}

static int parse_simple_statement(void)
{
    if (check(T_VAR)) {
        return parse_var();
    }
    int line = peek()->line;
    int node = new_node(N_EXPRESSION, line);
    nodes[node].a = parse_expression();
    return node;
}

static int parse_statement(void)
{
    Token *token = peek();
    int line = token->line;
    switch (token->kind) {
    case T_LBRACE:
        return parse_block();
    case T_IF: {
        position++;
        int node = new_node(N_IF, line);
        expect(T_LPAREN);
        nodes[node].a = parse_expression();
        expect(T_RPAREN);
        nodes[node].b = parse_statement();
        if (accept(T_ELSE)) {
            nodes[node].c = parse_statement();
        }
        return node;
    }
    case T_WHILE: {
        position++;
        int node = new_node(N_WHILE, line);
        expect(T_LPAREN);
        nodes[node].a = parse_expression();
        expect(T_RPAREN);
        nodes[node].b = parse_statement();
        return node;
    }
    case T_FOR: {
        position++;
        int node = new_node(N_FOR, line);
        expect(T_LPAREN);
        if (!check(T_SEMICOLON)) {
            nodes[node].a = parse_simple_statement();
        }
        expect(T_SEMICOLON);
        if (!check(T_SEMICOLON)) {
            nodes[node].b = parse_expression();
        }
        expect(T_SEMICOLON);
        if (!check(T_RPAREN)) {
            int step = new_node(N_EXPRESSION, peek()->line);
            nodes[step].a = parse_expression();
            nodes[node].c = step;
        }
        expect(T_RPAREN);
        nodes[node].d = parse_statement();
        return node;
    }
    case T_BREAK:
        position++;
        expect(T_SEMICOLON);
        return new_node(N_BREAK, line);
    case T_CONTINUE:
        position++;
        expect(T_SEMICOLON);
        return new_node(N_CONTINUE, line);
    case T_RETURN: {
        position++;
        int node = new_node(N_RETURN, line);
        if (!check(T_SEMICOLON)) {
            nodes[node].a = parse_expression();
        }
        expect(T_SEMICOLON);
        return node;
    }
    default: {
        int node = parse_simple_statement();
        expect(T_SEMICOLON);
        return node;
    }
    }
}

static int parse_function(void)
{
    int line = peek()->line;
    expect(T_FN);
    Token *name = peek();
    expect(T_NAME);
    int node = new_node(N_FUNCTION, line);
    nodes[node].name = name->name;
    expect(T_LPAREN);
    int last = -1;
    if (!check(T_RPAREN)) {
        do {
            Token *parameter = peek();
            expect(T_NAME);
            int p = new_node(N_NAME, parameter->line);
            nodes[p].name = parameter->name;
            if (last < 0) {
                nodes[node].a = p;
            } else {
                nodes[last].next = p;
            }
            last = p;
        } while (!failed && accept(T_COMMA));
    }
    expect(T_RPAREN);
    nodes[node].b = parse_block();
    return node;
}

/* A program is a list of functions and global `var` declarations; returns the first. */
static int parse_program(void)
{
    position = 0;
    int first = -1, last = -1;
    while (!failed && !check(T_EOF)) {
        int item;
        if (check(T_FN)) {
            item = parse_function();
        } else {
            item = parse_var();
            expect(T_SEMICOLON);
        }
        if (last < 0) {
            first = item;
        } else {
            nodes[last].next = item;
        }
        last = item;
    }
    return first;
}

/* ======================================================================================== */
/* Constant folding on the syntax tree                                                      */
/* ======================================================================================== */

/* Wrapping arithmetic on int64 through uint64, so no operation is undefined behaviour. */
static int64_t wrap_add(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a + (uint64_t)b);
}

static int64_t wrap_sub(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a - (uint64_t)b);
}

static int64_t wrap_mul(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a * (uint64_t)b);
}

static int64_t wrap_neg(int64_t a)
{
    return (int64_t)(0 - (uint64_t)a);
}

/* Truncating division; the caller checks b != 0. INT64_MIN / -1 wraps to INT64_MIN. */
static int64_t checked_div(int64_t a, int64_t b)
{
    if (b == -1) {
        return wrap_neg(a);
    }
    return a / b;
}

static int64_t checked_rem(int64_t a, int64_t b)
{
    if (b == -1) {
        return 0;
    }
    return a % b;
}

static int64_t shift_left(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a << ((uint64_t)b & 63));
}

/* Arithmetic shift right, written without relying on the implementation's `>>` of negatives. */
static int64_t shift_right(int64_t a, int64_t b)
{
    unsigned s = (unsigned)((uint64_t)b & 63);
    uint64_t u = (uint64_t)a >> s;
    if (a < 0 && s != 0) {
        u |= ~(~0ull >> s);
    }
    return (int64_t)u;
}

/* Applies a binary operator to two integers; returns 0 (and leaves *out) for x / 0. */
static int apply_binary(TokenKind op, int64_t a, int64_t b, int64_t *out)
{
    switch (op) {
    case T_PLUS: *out = wrap_add(a, b); return 1;
    case T_MINUS: *out = wrap_sub(a, b); return 1;
    case T_STAR: *out = wrap_mul(a, b); return 1;
    case T_SLASH:
        if (b == 0) return 0;
        *out = checked_div(a, b);
        return 1;
    case T_PERCENT:
        if (b == 0) return 0;
        *out = checked_rem(a, b);
        return 1;
    case T_AMP: *out = a & b; return 1;
    case T_PIPE: *out = a | b; return 1;
    case T_CARET: *out = a ^ b; return 1;
    case T_SHL: *out = shift_left(a, b); return 1;
    case T_SHR: *out = shift_right(a, b); return 1;
    case T_LT: *out = a < b; return 1;
    case T_LE: *out = a <= b; return 1;
    case T_GT: *out = a > b; return 1;
    case T_GE: *out = a >= b; return 1;
    case T_EQ: *out = a == b; return 1;
    case T_NE: *out = a != b; return 1;
    default: return 0;
    }
}

static int folded_constants;

static void fold(int index);

static void fold_list(int index)
{
    for (; index >= 0 && !failed; index = nodes[index].next) {
        fold(index);
    }
}

static void make_number(int index, int64_t value)
{
    Node *node = &nodes[index];
    node->kind = N_NUMBER;
    node->value = value;
    node->a = node->b = node->c = node->d = -1;
    folded_constants++;
}

static void fold(int index)
{
    if (index < 0) {
        return;
    }
    Node *node = &nodes[index];
    switch ((NodeKind)node->kind) {
    case N_NUMBER:
    case N_NIL:
    case N_NAME:
    case N_BREAK:
    case N_CONTINUE:
        return;
    case N_ARRAY_LITERAL:
        fold_list(node->a);
        return;
    case N_CALL:
        fold(node->a);
        fold_list(node->b);
        return;
    case N_INDEX:
    case N_ASSIGN:
    case N_WHILE:
        fold(node->a);
        fold(node->b);
        return;
    case N_UNARY: {
        fold(node->a);
        Node *operand = &nodes[node->a];
        if (operand->kind == N_NUMBER) {
            int64_t v = operand->value;
            int64_t result = node->op == T_MINUS ? wrap_neg(v) : node->op == T_BANG ? (v == 0) : ~v;
            make_number(index, result);
        }
        return;
    }
    case N_BINARY: {
        fold(node->a);
        fold(node->b);
        Node *left = &nodes[node->a];
        Node *right = &nodes[node->b];
        int64_t result;
        if (left->kind == N_NUMBER && right->kind == N_NUMBER &&
            apply_binary((TokenKind)node->op, left->value, right->value, &result)) {
            make_number(index, result);
        }
        return;
    }
    case N_AND:
    case N_OR: {
        fold(node->a);
        fold(node->b);
        Node *left = &nodes[node->a];
        Node *right = &nodes[node->b];
        if (left->kind == N_NUMBER && right->kind == N_NUMBER) {
            int l = left->value != 0, r = right->value != 0;
            /* `&&` and `||` yield the deciding operand's value, like JavaScript. */
            int64_t result = node->kind == N_AND ? (l ? right->value : left->value)
                                                 : (l ? left->value : right->value);
            (void)r;
            make_number(index, result);
        }
        return;
    }
    case N_CONDITIONAL: {
        fold(node->a);
        fold(node->b);
        fold(node->c);
        Node *condition = &nodes[node->a];
        if (condition->kind == N_NUMBER) {
            int chosen = condition->value != 0 ? node->b : node->c;
            nodes[index] = nodes[chosen];
            folded_constants++;
        }
        return;
    }
    case N_EXPRESSION:
    case N_VAR:
    case N_RETURN:
        fold(node->a);
        return;
    case N_BLOCK:
        fold_list(node->a);
        return;
    case N_IF:
        fold(node->a);
        fold(node->b);
        fold(node->c);
        return;
    case N_FOR:
        fold(node->a);
        fold(node->b);
        fold(node->c);
        fold(node->d);
        return;
    case N_FUNCTION:
        fold(node->b);
        return;
    }
}

/* ======================================================================================== */
/* Bytecode                                                                                  */
/* ======================================================================================== */

typedef enum {
    OP_INT,          /* i32: push an integer */
    OP_CONSTANT,     /* u16: push constants[k] */
    OP_NIL,
    OP_POP,
    OP_DUP,
    OP_DUP2,         /* a b -> a b a b */
    OP_GET_LOCAL,    /* u8 */
    OP_GET_LOCAL2,   /* u8 u8: two locals */
    OP_SET_LOCAL,    /* u8: keeps the value */
    OP_STORE_LOCAL,  /* u8: pops the value (SET_LOCAL + POP) */
    OP_ADD_LOCAL_INT,/* u8 i32: local += k (statement form, pushes nothing) */
    OP_GET_GLOBAL,   /* u8 */
    OP_SET_GLOBAL,   /* u8: keeps the value */
    OP_GET_INDEX,    /* array index -> value */
    OP_SET_INDEX,    /* array index value -> value */
    OP_ADD,
    OP_ADD_INT,      /* i32 */
    OP_SUB,
    OP_MUL,
    OP_DIV,
    OP_REM,
    OP_AND,
    OP_OR,
    OP_XOR,
    OP_SHL,
    OP_SHR,
    OP_LT,
    OP_LE,
    OP_GT,
    OP_GE,
    OP_EQ,
    OP_NE,
    OP_NEG,
    OP_NOT,
    OP_BITNOT,
    OP_JUMP,              /* i32 relative to the end of the instruction */
    OP_JUMP_IF_FALSE,     /* i32: pops the condition */
    OP_JUMP_IF_TRUE,      /* i32: pops the condition */
    OP_JUMP_IF_FALSE_KEEP,/* i32: keeps it if jumping, pops it otherwise (for &&) */
    OP_JUMP_IF_TRUE_KEEP, /* i32: same for || */
    OP_LT_JUMP_IF_FALSE,  /* i32: a b -> ; jumps unless a < b (fused compare and branch) */
    OP_CALL,              /* u8 argument count */
    OP_RETURN,
    OP_ARRAY,             /* u16 element count */
    OP_FUNCTION,          /* u8 function index */
    OP_BUILTIN,           /* u8 builtin index */
    OP_HALT,
    OP_COUNT
} Opcode;

static const uint8_t operand_bytes[OP_COUNT] = {
    [OP_INT] = 4,        [OP_CONSTANT] = 2,   [OP_GET_LOCAL] = 1,   [OP_GET_LOCAL2] = 2,
    [OP_SET_LOCAL] = 1,  [OP_STORE_LOCAL] = 1, [OP_ADD_LOCAL_INT] = 5, [OP_GET_GLOBAL] = 1,
    [OP_SET_GLOBAL] = 1, [OP_ADD_INT] = 4,    [OP_JUMP] = 4,        [OP_JUMP_IF_FALSE] = 4,
    [OP_JUMP_IF_TRUE] = 4, [OP_JUMP_IF_FALSE_KEEP] = 4, [OP_JUMP_IF_TRUE_KEEP] = 4,
    [OP_LT_JUMP_IF_FALSE] = 4, [OP_CALL] = 1, [OP_ARRAY] = 2,       [OP_FUNCTION] = 1,
    [OP_BUILTIN] = 1,
};

static uint8_t code[MAX_CODE];
static int code_length;
static int64_t constants[MAX_CONSTANTS];
static int constant_count;

typedef struct {
    int name;
    int entry;      /* code offset */
    int parameters;
    int locals;     /* including parameters */
} Function;

static Function functions[MAX_FUNCTIONS];
static int function_count;

/* Builtins: functions implemented in C. */
typedef enum {
    B_LEN,
    B_PUSH,
    B_POP,
    B_ARRAY,
    B_HASH,
    B_MIN,
    B_MAX,
    B_ABS,
    B_ASSERT,
    B_COUNT
} Builtin;

static const struct {
    const char *name;
    int arity;
} builtins[B_COUNT] = {
    [B_LEN] = {"len", 1},     [B_PUSH] = {"push", 2}, [B_POP] = {"pop", 1},
    [B_ARRAY] = {"array", 1}, [B_HASH] = {"hash", 2}, [B_MIN] = {"min", 2},
    [B_MAX] = {"max", 2},     [B_ABS] = {"abs", 1},   [B_ASSERT] = {"assert", 1},
};

/* ======================================================================================== */
/* Compiler: syntax tree to bytecode, with scopes and a peephole pass at emission time       */
/* ======================================================================================== */

typedef struct {
    int name;
    int depth;
    int slot;
} Local;

static int global_names[MAX_GLOBALS];
static int global_count;

static Local locals[MAX_LOCALS];
static int local_count;
static int scope_depth;
static int max_slots;

/* Loops: where `continue` goes and which jumps `break` must patch. */
typedef struct {
    int continue_target; /* -1 while unknown (for loops: the step comes later) */
    int continue_jumps[MAX_JUMPS_PER_LOOP];
    int continue_jump_count;
    int break_jumps[MAX_JUMPS_PER_LOOP];
    int break_jump_count;
    int scope_depth;
} Loop;

static Loop loops[MAX_LOOP_DEPTH];
static int loop_depth;

/* The start of the last instruction emitted, or -1 after a jump target (no fusing across). */
static int last_instruction;
static int peephole_fusions;

static int current_line;

static void emit_byte(int byte)
{
    if (code_length >= MAX_CODE) {
        fail(ERROR_COMPILE, (uint32_t)current_line);
        return;
    }
    code[code_length++] = (uint8_t)byte;
}

static void emit_i32(int32_t value)
{
    uint32_t v = (uint32_t)value;
    emit_byte((int)(v & 0xff));
    emit_byte((int)((v >> 8) & 0xff));
    emit_byte((int)((v >> 16) & 0xff));
    emit_byte((int)(v >> 24));
}

static int32_t read_i32(const uint8_t *p)
{
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return (int32_t)v;
}

static void write_i32(uint8_t *p, int32_t value)
{
    uint32_t v = (uint32_t)value;
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint16_t read_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

/* Marks the current position as a jump target: nothing may be fused across it. */
static void mark_target(void)
{
    last_instruction = -1;
}

static int last_op(void)
{
    return last_instruction >= 0 ? code[last_instruction] : -1;
}

/* Emits an opcode with its operands, fusing it with the previous instruction when a shorter
 * or faster equivalent exists. */
static void emit_op(Opcode op, int32_t operand, int32_t operand2)
{
    int previous = last_op();
    if (op == OP_ADD && previous == OP_INT) {
        int32_t k = read_i32(&code[last_instruction + 1]);
        code[last_instruction] = OP_ADD_INT;
        write_i32(&code[last_instruction + 1], k);
        peephole_fusions++;
        return;
    }
    if (op == OP_SUB && previous == OP_INT) {
        int32_t k = read_i32(&code[last_instruction + 1]);
        if (k != INT32_MIN) {
            code[last_instruction] = OP_ADD_INT;
            write_i32(&code[last_instruction + 1], -k);
            peephole_fusions++;
            return;
        }
    }
    if (op == OP_POP && previous == OP_SET_LOCAL) {
        code[last_instruction] = OP_STORE_LOCAL;
        peephole_fusions++;
        return;
    }
    if (op == OP_GET_LOCAL && previous == OP_GET_LOCAL) {
        int first = code[last_instruction + 1];
        code[last_instruction] = OP_GET_LOCAL2;
        code_length = last_instruction + 2;
        emit_byte(operand);
        (void)first;
        peephole_fusions++;
        return;
    }
    if (op == OP_JUMP_IF_FALSE && previous == OP_LT) {
        code_length = last_instruction;
        last_instruction = code_length;
        emit_byte(OP_LT_JUMP_IF_FALSE);
        emit_i32(operand);
        peephole_fusions++;
        return;
    }
    last_instruction = code_length;
    emit_byte(op);
    switch (operand_bytes[op]) {
    case 0:
        break;
    case 1:
        emit_byte(operand);
        break;
    case 2:
        emit_byte(operand & 0xff);
        emit_byte((operand >> 8) & 0xff);
        break;
    case 4:
        emit_i32(operand);
        break;
    case 5:
        emit_byte(operand);
        emit_i32(operand2);
        break;
    }
}

static void emit(Opcode op)
{
    emit_op(op, 0, 0);
}

/* Emits a forward jump and returns the offset of its operand, for patch_jump. */
static int emit_jump(Opcode op)
{
    emit_op(op, 0, 0);
    return code_length - 4;
}

/* Points a forward jump at the current position. */
static void patch_jump(int operand_at)
{
    write_i32(&code[operand_at], code_length - (operand_at + 4));
    mark_target();
}

static void emit_loop(int target)
{
    emit_op(OP_JUMP, 0, 0);
    write_i32(&code[code_length - 4], target - code_length);
}

static void emit_integer(int64_t value)
{
    if (value >= INT32_MIN && value <= INT32_MAX) {
        emit_op(OP_INT, (int32_t)value, 0);
        return;
    }
    for (int i = 0; i < constant_count; i++) {
        if (constants[i] == value) {
            emit_op(OP_CONSTANT, i, 0);
            return;
        }
    }
    if (constant_count >= MAX_CONSTANTS) {
        fail(ERROR_COMPILE, (uint32_t)current_line);
        return;
    }
    constants[constant_count] = value;
    emit_op(OP_CONSTANT, constant_count++, 0);
}

static int find_local(int name)
{
    for (int i = local_count - 1; i >= 0; i--) {
        if (locals[i].name == name) {
            return locals[i].slot;
        }
    }
    return -1;
}

static int find_global(int name)
{
    for (int i = 0; i < global_count; i++) {
        if (global_names[i] == name) {
            return i;
        }
    }
    return -1;
}

static int find_builtin(int name)
{
    for (int i = 0; i < B_COUNT; i++) {
        if (text_equals(name_text[name], name_length[name], builtins[i].name)) {
            return i;
        }
    }
    return -1;
}

static int declare_global(int name)
{
    int existing = find_global(name);
    if (existing >= 0) {
        return existing;
    }
    if (global_count >= MAX_GLOBALS) {
        fail(ERROR_COMPILE, (uint32_t)current_line);
        return 0;
    }
    global_names[global_count] = name;
    return global_count++;
}

static int declare_local(int name)
{
    for (int i = local_count - 1; i >= 0 && locals[i].depth == scope_depth; i--) {
        if (locals[i].name == name) {
            fail(ERROR_COMPILE, (uint32_t)current_line); /* redeclared in the same scope */
            return 0;
        }
    }
    if (local_count >= MAX_LOCALS) {
        fail(ERROR_COMPILE, (uint32_t)current_line);
        return 0;
    }
    /* Slots are reused after a scope ends: the slot is the count of live locals. */
    int slot = local_count;
    locals[local_count].name = name;
    locals[local_count].depth = scope_depth;
    locals[local_count].slot = slot;
    local_count++;
    if (local_count > max_slots) {
        max_slots = local_count;
    }
    return slot;
}

static void begin_scope(void)
{
    scope_depth++;
}

static void end_scope(void)
{
    scope_depth--;
    while (local_count > 0 && locals[local_count - 1].depth > scope_depth) {
        local_count--;
    }
}

static void compile_expression(int index);
static void compile_statement(int index);

static void compile_name_load(int name)
{
    int slot = find_local(name);
    if (slot >= 0) {
        emit_op(OP_GET_LOCAL, slot, 0);
        return;
    }
    int global = find_global(name);
    if (global >= 0) {
        emit_op(OP_GET_GLOBAL, global, 0);
        return;
    }
    int builtin = find_builtin(name);
    if (builtin >= 0) {
        emit_op(OP_BUILTIN, builtin, 0);
        return;
    }
    fail(ERROR_COMPILE, (uint32_t)current_line); /* undefined name */
}

static Opcode binary_opcode(TokenKind op)
{
    switch (op) {
    case T_PLUS:
    case T_PLUS_ASSIGN: return OP_ADD;
    case T_MINUS:
    case T_MINUS_ASSIGN: return OP_SUB;
    case T_STAR:
    case T_STAR_ASSIGN: return OP_MUL;
    case T_SLASH:
    case T_SLASH_ASSIGN: return OP_DIV;
    case T_PERCENT:
    case T_PERCENT_ASSIGN: return OP_REM;
    case T_AMP:
    case T_AMP_ASSIGN: return OP_AND;
    case T_PIPE:
    case T_PIPE_ASSIGN: return OP_OR;
    case T_CARET:
    case T_CARET_ASSIGN: return OP_XOR;
    case T_SHL:
    case T_SHL_ASSIGN: return OP_SHL;
    case T_SHR:
    case T_SHR_ASSIGN: return OP_SHR;
    case T_LT: return OP_LT;
    case T_LE: return OP_LE;
    case T_GT: return OP_GT;
    case T_GE: return OP_GE;
    case T_EQ: return OP_EQ;
    case T_NE: return OP_NE;
    default:
        fail(ERROR_COMPILE, (uint32_t)current_line);
        return OP_ADD;
    }
}

static void compile_assignment(int index)
{
    Node *node = &nodes[index];
    Node *target = &nodes[node->a];
    TokenKind op = (TokenKind)node->op;
    if (target->kind == N_NAME) {
        int slot = find_local(target->name);
        int global = slot < 0 ? find_global(target->name) : -1;
        if (slot < 0 && global < 0) {
            fail(ERROR_COMPILE, (uint32_t)current_line);
            return;
        }
        if (op != T_ASSIGN) {
            compile_name_load(target->name);
            compile_expression(node->b);
            emit(binary_opcode(op));
        } else {
            compile_expression(node->b);
        }
        if (slot >= 0) {
            emit_op(OP_SET_LOCAL, slot, 0);
        } else {
            emit_op(OP_SET_GLOBAL, global, 0);
        }
        return;
    }
    /* a[i] op= v: evaluate a and i once. */
    compile_expression(target->a);
    compile_expression(target->b);
    if (op != T_ASSIGN) {
        emit(OP_DUP2);
        emit(OP_GET_INDEX);
        compile_expression(node->b);
        emit(binary_opcode(op));
    } else {
        compile_expression(node->b);
    }
    emit(OP_SET_INDEX);
}

static void compile_expression(int index)
{
    if (failed) {
        return;
    }
    Node *node = &nodes[index];
    current_line = node->line;
    switch ((NodeKind)node->kind) {
    case N_NUMBER:
        emit_integer(node->value);
        return;
    case N_NIL:
        emit(OP_NIL);
        return;
    case N_NAME:
        compile_name_load(node->name);
        return;
    case N_ARRAY_LITERAL: {
        int count = 0;
        for (int element = node->a; element >= 0; element = nodes[element].next) {
            compile_expression(element);
            count++;
        }
        emit_op(OP_ARRAY, count, 0);
        return;
    }
    case N_INDEX:
        compile_expression(node->a);
        compile_expression(node->b);
        emit(OP_GET_INDEX);
        return;
    case N_CALL: {
        compile_expression(node->a);
        int count = 0;
        for (int argument = node->b; argument >= 0; argument = nodes[argument].next) {
            compile_expression(argument);
            count++;
        }
        emit_op(OP_CALL, count, 0);
        return;
    }
    case N_UNARY:
        compile_expression(node->a);
        emit(node->op == T_MINUS ? OP_NEG : node->op == T_BANG ? OP_NOT : OP_BITNOT);
        return;
    case N_BINARY:
        compile_expression(node->a);
        compile_expression(node->b);
        emit(binary_opcode((TokenKind)node->op));
        return;
    case N_AND:
    case N_OR: {
        compile_expression(node->a);
        int jump = emit_jump(node->kind == N_AND ? OP_JUMP_IF_FALSE_KEEP : OP_JUMP_IF_TRUE_KEEP);
        compile_expression(node->b);
        patch_jump(jump);
        return;
    }
    case N_CONDITIONAL: {
        compile_expression(node->a);
        int to_else = emit_jump(OP_JUMP_IF_FALSE);
        compile_expression(node->b);
        int to_end = emit_jump(OP_JUMP);
        patch_jump(to_else);
        compile_expression(node->c);
        patch_jump(to_end);
        return;
    }
    case N_ASSIGN:
        compile_assignment(index);
        return;
    default:
        fail(ERROR_COMPILE, (uint32_t)node->line);
        return;
    }
}

/* `x += k` / `x = x + k` on a local, as a statement: one fused instruction. */
static int compile_local_increment(int index)
{
    Node *node = &nodes[index];
    if (node->kind != N_ASSIGN || nodes[node->a].kind != N_NAME) {
        return 0;
    }
    int slot = find_local(nodes[node->a].name);
    if (slot < 0) {
        return 0;
    }
    int64_t k;
    Node *value = &nodes[node->b];
    if ((node->op == T_PLUS_ASSIGN || node->op == T_MINUS_ASSIGN) && value->kind == N_NUMBER) {
        k = node->op == T_PLUS_ASSIGN ? value->value : wrap_neg(value->value);
    } else if (node->op == T_ASSIGN && value->kind == N_BINARY && value->op == T_PLUS &&
               nodes[value->a].kind == N_NAME && nodes[value->a].name == nodes[node->a].name &&
               nodes[value->b].kind == N_NUMBER) {
        k = nodes[value->b].value;
    } else {
        return 0;
    }
    if (k < INT32_MIN || k > INT32_MAX) {
        return 0;
    }
    emit_op(OP_ADD_LOCAL_INT, slot, (int32_t)k);
    peephole_fusions++;
    return 1;
}

static void compile_block_list(int first)
{
    for (int statement = first; statement >= 0 && !failed; statement = nodes[statement].next) {
        compile_statement(statement);
    }
}

static Loop *begin_loop(int continue_target)
{
    if (loop_depth >= MAX_LOOP_DEPTH) {
        fail(ERROR_COMPILE, (uint32_t)current_line);
        return &loops[0];
    }
    Loop *loop = &loops[loop_depth++];
    loop->continue_target = continue_target;
    loop->continue_jump_count = 0;
    loop->break_jump_count = 0;
    loop->scope_depth = scope_depth;
    return loop;
}

static void end_loop(Loop *loop)
{
    for (int i = 0; i < loop->break_jump_count; i++) {
        patch_jump(loop->break_jumps[i]);
    }
    loop_depth--;
}

static void compile_statement(int index)
{
    if (failed) {
        return;
    }
    Node *node = &nodes[index];
    current_line = node->line;
    switch ((NodeKind)node->kind) {
    case N_EXPRESSION:
        if (!compile_local_increment(node->a)) {
            compile_expression(node->a);
            emit(OP_POP);
        }
        return;
    case N_VAR: {
        if (node->a >= 0) {
            compile_expression(node->a);
        } else {
            emit(OP_NIL);
        }
        /* Declared after the initializer, so `var x = x;` reads an outer x. */
        int slot = declare_local(node->name);
        emit_op(OP_STORE_LOCAL, slot, 0);
        return;
    }
    case N_BLOCK:
        begin_scope();
        compile_block_list(node->a);
        end_scope();
        return;
    case N_IF: {
        Node *condition = &nodes[node->a];
        if (condition->kind == N_NUMBER) {
            /* Folded: compile only the branch that runs. */
            if (condition->value != 0) {
                compile_statement(node->b);
            } else if (node->c >= 0) {
                compile_statement(node->c);
            }
            return;
        }
        compile_expression(node->a);
        int to_else = emit_jump(OP_JUMP_IF_FALSE);
        compile_statement(node->b);
        if (node->c >= 0) {
            int to_end = emit_jump(OP_JUMP);
            patch_jump(to_else);
            compile_statement(node->c);
            patch_jump(to_end);
        } else {
            patch_jump(to_else);
        }
        return;
    }
    case N_WHILE: {
        mark_target();
        int start = code_length;
        Loop *loop = begin_loop(start);
        compile_expression(node->a);
        int exit = emit_jump(OP_JUMP_IF_FALSE);
        compile_statement(node->b);
        emit_loop(start);
        patch_jump(exit);
        end_loop(loop);
        return;
    }
    case N_FOR: {
        begin_scope();
        if (node->a >= 0) {
            compile_statement(node->a);
        }
        mark_target();
        int start = code_length;
        int exit = -1;
        if (node->b >= 0) {
            compile_expression(node->b);
            exit = emit_jump(OP_JUMP_IF_FALSE);
        }
        Loop *loop = begin_loop(-1);
        compile_statement(node->d);
        /* `continue` lands on the step. */
        mark_target();
        for (int i = 0; i < loop->continue_jump_count; i++) {
            patch_jump(loop->continue_jumps[i]);
        }
        if (node->c >= 0) {
            compile_statement(node->c);
        }
        emit_loop(start);
        if (exit >= 0) {
            patch_jump(exit);
        }
        end_loop(loop);
        end_scope();
        return;
    }
    case N_BREAK:
    case N_CONTINUE: {
        if (loop_depth == 0) {
            fail(ERROR_COMPILE, (uint32_t)node->line);
            return;
        }
        Loop *loop = &loops[loop_depth - 1];
        if (node->kind == N_CONTINUE && loop->continue_target >= 0) {
            emit_loop(loop->continue_target);
            return;
        }
        int jump = emit_jump(OP_JUMP);
        if (node->kind == N_BREAK) {
            if (loop->break_jump_count >= MAX_JUMPS_PER_LOOP) {
                fail(ERROR_COMPILE, (uint32_t)node->line);
                return;
            }
            loop->break_jumps[loop->break_jump_count++] = jump;
        } else {
            if (loop->continue_jump_count >= MAX_JUMPS_PER_LOOP) {
                fail(ERROR_COMPILE, (uint32_t)node->line);
                return;
            }
            loop->continue_jumps[loop->continue_jump_count++] = jump;
        }
        return;
    }
    case N_RETURN:
        if (node->a >= 0) {
            compile_expression(node->a);
        } else {
            emit(OP_NIL);
        }
        emit(OP_RETURN);
        return;
    default:
        fail(ERROR_COMPILE, (uint32_t)node->line);
        return;
    }
}

static void compile_function(int index, Function *function)
{
    Node *node = &nodes[index];
    local_count = 0;
    scope_depth = 0;
    max_slots = 0;
    loop_depth = 0;
    mark_target();
    function->entry = code_length;
    int parameters = 0;
    for (int p = node->a; p >= 0; p = nodes[p].next) {
        declare_local(nodes[p].name);
        parameters++;
    }
    function->parameters = parameters;
    compile_statement(node->b);
    /* Falling off the end returns nil. */
    emit(OP_NIL);
    emit(OP_RETURN);
    function->locals = max_slots;
}

/* Compiles the whole program: functions, plus an initializer for the globals that runs first
 * (function 0). Returns 1 on success. */
static int compile_program(int first)
{
    code_length = 0;
    constant_count = 0;
    function_count = 0;
    global_count = 0;
    peephole_fusions = 0;
    last_instruction = -1;
    /* Every top-level name is a global; functions are stored in theirs by the initializer. */
    for (int item = first; item >= 0; item = nodes[item].next) {
        current_line = nodes[item].line;
        if (find_global(nodes[item].name) >= 0) {
            fail(ERROR_COMPILE, (uint32_t)current_line);
            return 0;
        }
        declare_global(nodes[item].name);
    }
    /* Reserve function 0 for the initializer; the others follow in source order. */
    function_count = 1;
    for (int item = first; item >= 0 && !failed; item = nodes[item].next) {
        if (nodes[item].kind != N_FUNCTION) {
            continue;
        }
        if (function_count >= MAX_FUNCTIONS) {
            fail(ERROR_COMPILE, nodes[item].line);
            return 0;
        }
        Function *function = &functions[function_count++];
        function->name = nodes[item].name;
        compile_function(item, function);
    }
    /* The initializer. */
    Function *init = &functions[0];
    init->name = -1;
    init->parameters = 0;
    local_count = 0;
    scope_depth = 0;
    max_slots = 0;
    loop_depth = 0;
    mark_target();
    init->entry = code_length;
    int function_index = 1;
    for (int item = first; item >= 0 && !failed; item = nodes[item].next) {
        int global = find_global(nodes[item].name);
        if (nodes[item].kind == N_FUNCTION) {
            emit_op(OP_FUNCTION, function_index++, 0);
        } else if (nodes[item].a >= 0) {
            compile_expression(nodes[item].a);
        } else {
            emit(OP_NIL);
        }
        emit_op(OP_SET_GLOBAL, global, 0);
        emit(OP_POP);
    }
    emit(OP_NIL);
    emit(OP_RETURN);
    init->locals = max_slots;
    return !failed;
}

/* ======================================================================================== */
/* Values, arrays and the garbage collector                                                  */
/* ======================================================================================== */

typedef enum {
    TYPE_NIL,
    TYPE_INT,
    TYPE_ARRAY,
    TYPE_FUNCTION,
    TYPE_BUILTIN,
} ValueType;

typedef struct {
    int64_t v;
    uint32_t type;
    uint32_t reserved;
} Value;

#define HEAP_VALUES (64 * 1024)
#define MAX_ARRAY_LENGTH (HEAP_VALUES / 2)

typedef struct {
    uint32_t offset;
    uint32_t length;
    uint32_t capacity;
    uint8_t live;
    uint8_t marked;
} ArrayObject;

static ArrayObject arrays[MAX_ARRAYS];
static int32_t free_handles[MAX_ARRAYS];
static int free_handle_count;
static Value heap_space_a[HEAP_VALUES];
static Value heap_space_b[HEAP_VALUES];
static Value *heap;
static Value *spare_heap;
static uint32_t heap_top;
static uint64_t gc_count;

static Value stack[MAX_STACK];
static int sp;
static Value globals[MAX_GLOBALS];

/* Handles the collector must keep although no value refers to them yet. */
static int32_t pinned[4];
static int pinned_count;

static Value make_int(int64_t v)
{
    Value value;
    value.v = v;
    value.type = TYPE_INT;
    value.reserved = 0;
    return value;
}

static Value make_value(ValueType type, int64_t v)
{
    Value value;
    value.v = v;
    value.type = (uint32_t)type;
    value.reserved = 0;
    return value;
}

static Value nil_value(void)
{
    return make_value(TYPE_NIL, 0);
}

static void heap_reset(void)
{
    heap = heap_space_a;
    spare_heap = heap_space_b;
    heap_top = 0;
    free_handle_count = 0;
    for (int i = MAX_ARRAYS - 1; i >= 0; i--) {
        arrays[i].live = 0;
        free_handles[free_handle_count++] = i;
    }
    pinned_count = 0;
    gc_count = 0;
}

static int32_t mark_stack[MAX_ARRAYS];

static void mark_value(Value value, int *mark_top)
{
    if (value.type != TYPE_ARRAY) {
        return;
    }
    ArrayObject *array = &arrays[value.v];
    if (!array->marked) {
        array->marked = 1;
        mark_stack[(*mark_top)++] = (int32_t)value.v;
    }
}

/* Mark from the roots (the VM stack, the globals, pinned handles), then copy every live
 * array's storage into the other semispace; handles stay, offsets change, dead handles are
 * freed. */
static void collect_garbage(void)
{
    gc_count++;
    for (int i = 0; i < MAX_ARRAYS; i++) {
        arrays[i].marked = 0;
    }
    int mark_top = 0;
    for (int i = 0; i < sp; i++) {
        mark_value(stack[i], &mark_top);
    }
    for (int i = 0; i < global_count; i++) {
        mark_value(globals[i], &mark_top);
    }
    for (int i = 0; i < pinned_count; i++) {
        mark_value(make_value(TYPE_ARRAY, pinned[i]), &mark_top);
    }
    while (mark_top > 0) {
        ArrayObject *array = &arrays[mark_stack[--mark_top]];
        for (uint32_t i = 0; i < array->length; i++) {
            mark_value(heap[array->offset + i], &mark_top);
        }
    }
    uint32_t new_top = 0;
    free_handle_count = 0;
    for (int i = MAX_ARRAYS - 1; i >= 0; i--) {
        ArrayObject *array = &arrays[i];
        if (array->live && array->marked) {
            memcpy(&spare_heap[new_top], &heap[array->offset], array->length * sizeof(Value));
            array->offset = new_top;
            new_top += array->capacity;
        } else {
            array->live = 0;
            free_handles[free_handle_count++] = i;
        }
    }
    Value *swap = heap;
    heap = spare_heap;
    spare_heap = swap;
    heap_top = new_top;
}

/* Reserves `count` values of storage; may collect garbage. Returns the offset or -1. */
static int64_t reserve(uint32_t count)
{
    if (heap_top + count > HEAP_VALUES) {
        collect_garbage();
        if (heap_top + count > HEAP_VALUES) {
            return -1;
        }
    }
    uint32_t offset = heap_top;
    heap_top += count;
    return offset;
}

/* A new array of `length` nils (or zeros with `zero`); -1 if out of memory. */
static int32_t new_array(uint32_t length, int zero)
{
    if (length > MAX_ARRAY_LENGTH) {
        return -1;
    }
    if (free_handle_count == 0) {
        collect_garbage();
        if (free_handle_count == 0) {
            return -1;
        }
    }
    int32_t handle = free_handles[--free_handle_count];
    ArrayObject *array = &arrays[handle];
    array->live = 1;
    array->length = 0;
    array->capacity = 0;
    array->offset = 0;
    uint32_t capacity = length < 4 ? 4 : length;
    pinned[pinned_count++] = handle;
    int64_t offset = reserve(capacity);
    pinned_count--;
    if (offset < 0) {
        return -1;
    }
    array->offset = (uint32_t)offset;
    array->capacity = capacity;
    array->length = length;
    Value fill = zero ? make_int(0) : nil_value();
    for (uint32_t i = 0; i < length; i++) {
        heap[offset + i] = fill;
    }
    return handle;
}

/* Appends to an array, doubling its storage when full. Returns 0 when out of memory. */
static int array_push(int32_t handle, Value value)
{
    ArrayObject *array = &arrays[handle];
    if (array->length == array->capacity) {
        uint32_t capacity = array->capacity * 2;
        if (capacity > MAX_ARRAY_LENGTH) {
            return 0;
        }
        pinned[pinned_count++] = handle;
        int pushed_is_array = value.type == TYPE_ARRAY;
        if (pushed_is_array) {
            pinned[pinned_count++] = (int32_t)value.v;
        }
        int64_t offset = reserve(capacity);
        pinned_count -= 1 + pushed_is_array;
        if (offset < 0) {
            return 0;
        }
        memcpy(&heap[offset], &heap[array->offset], array->length * sizeof(Value));
        array->offset = (uint32_t)offset;
        array->capacity = capacity;
    }
    heap[array->offset + array->length++] = value;
    return 1;
}

/* ======================================================================================== */
/* The virtual machine                                                                       */
/* ======================================================================================== */

typedef struct {
    int return_pc;
    int base;
} Frame;

static Frame frames[MAX_FRAMES];
static uint64_t instructions_executed;

static int truthy(Value value)
{
    switch ((ValueType)value.type) {
    case TYPE_NIL: return 0;
    case TYPE_INT: return value.v != 0;
    default: return 1;
    }
}

static int values_equal(Value a, Value b)
{
    return a.type == b.type && a.v == b.v;
}

/* Runs a builtin on the `count` arguments at `args`; returns the result (sets `failed`). */
static Value call_builtin(Builtin builtin, Value *args, int count, int pc)
{
    if (count != builtins[builtin].arity) {
        fail(ERROR_RUNTIME, (uint32_t)pc);
        return nil_value();
    }
    switch (builtin) {
    case B_LEN:
        if (args[0].type != TYPE_ARRAY) break;
        return make_int(arrays[args[0].v].length);
    case B_PUSH:
        if (args[0].type != TYPE_ARRAY) break;
        if (!array_push((int32_t)args[0].v, args[1])) break;
        return args[0];
    case B_POP: {
        if (args[0].type != TYPE_ARRAY) break;
        ArrayObject *array = &arrays[args[0].v];
        if (array->length == 0) break;
        return heap[array->offset + --array->length];
    }
    case B_ARRAY: {
        if (args[0].type != TYPE_INT || args[0].v < 0 || args[0].v > MAX_ARRAY_LENGTH) break;
        int32_t handle = new_array((uint32_t)args[0].v, 1);
        if (handle < 0) break;
        return make_value(TYPE_ARRAY, handle);
    }
    case B_HASH:
        if (args[0].type != TYPE_INT || args[1].type != TYPE_INT) break;
        return make_int((int64_t)bench_mix((uint64_t)args[0].v, (uint64_t)args[1].v));
    case B_MIN:
        if (args[0].type != TYPE_INT || args[1].type != TYPE_INT) break;
        return args[0].v < args[1].v ? args[0] : args[1];
    case B_MAX:
        if (args[0].type != TYPE_INT || args[1].type != TYPE_INT) break;
        return args[0].v > args[1].v ? args[0] : args[1];
    case B_ABS:
        if (args[0].type != TYPE_INT) break;
        return make_int(args[0].v < 0 ? wrap_neg(args[0].v) : args[0].v);
    case B_ASSERT:
        if (!truthy(args[0])) break;
        return nil_value();
    case B_COUNT:
        break;
    }
    fail(ERROR_RUNTIME, (uint32_t)pc);
    return nil_value();
}

#define RUNTIME_ERROR()                              \
    do {                                             \
        fail(ERROR_RUNTIME, (uint32_t)instruction);  \
        return nil_value();                          \
    } while (0)

#define CHECK_STACK(n)                               \
    do {                                             \
        if (sp + (n) > MAX_STACK) RUNTIME_ERROR();   \
    } while (0)

#define BINARY_INT(expression)                                            \
    do {                                                                  \
        Value b = stack[--sp];                                            \
        Value a = stack[sp - 1];                                          \
        if (a.type != TYPE_INT || b.type != TYPE_INT) RUNTIME_ERROR();    \
        int64_t x = a.v, y = b.v;                                         \
        stack[sp - 1] = make_int(expression);                             \
    } while (0)

/* Calls `callee` with `count` arguments and runs until it returns. */
static Value vm_call(Value callee, const Value *args, int count)
{
    int frame_count = 0;
    int base = 0;
    int pc = 0;
    int instruction = 0;
    sp = 0;
    stack[sp++] = callee;
    for (int i = 0; i < count; i++) {
        stack[sp++] = args[i];
    }
    /* The call itself is performed by the OP_CALL logic below, entered with this pc. */
    int argc = count;
    goto do_call;

    for (;;) {
        instruction = pc;
        instructions_executed++;
        Opcode op = (Opcode)code[pc++];
        switch (op) {
        case OP_INT:
            CHECK_STACK(1);
            stack[sp++] = make_int(read_i32(&code[pc]));
            pc += 4;
            break;
        case OP_CONSTANT:
            CHECK_STACK(1);
            stack[sp++] = make_int(constants[read_u16(&code[pc])]);
            pc += 2;
            break;
        case OP_NIL:
            CHECK_STACK(1);
            stack[sp++] = nil_value();
            break;
        case OP_POP:
            sp--;
            break;
        case OP_DUP:
            CHECK_STACK(1);
            stack[sp] = stack[sp - 1];
            sp++;
            break;
        case OP_DUP2:
            CHECK_STACK(2);
            stack[sp] = stack[sp - 2];
            stack[sp + 1] = stack[sp - 1];
            sp += 2;
            break;
        case OP_GET_LOCAL:
            CHECK_STACK(1);
            stack[sp++] = stack[base + code[pc++]];
            break;
        case OP_GET_LOCAL2:
            CHECK_STACK(2);
            stack[sp] = stack[base + code[pc]];
            stack[sp + 1] = stack[base + code[pc + 1]];
            sp += 2;
            pc += 2;
            break;
        case OP_SET_LOCAL:
            stack[base + code[pc++]] = stack[sp - 1];
            break;
        case OP_STORE_LOCAL:
            stack[base + code[pc++]] = stack[--sp];
            break;
        case OP_ADD_LOCAL_INT: {
            Value *local = &stack[base + code[pc]];
            if (local->type != TYPE_INT) RUNTIME_ERROR();
            local->v = wrap_add(local->v, read_i32(&code[pc + 1]));
            pc += 5;
            break;
        }
        case OP_GET_GLOBAL:
            CHECK_STACK(1);
            stack[sp++] = globals[code[pc++]];
            break;
        case OP_SET_GLOBAL:
            globals[code[pc++]] = stack[sp - 1];
            break;
        case OP_GET_INDEX: {
            Value index = stack[--sp];
            Value array = stack[sp - 1];
            if (array.type != TYPE_ARRAY || index.type != TYPE_INT) RUNTIME_ERROR();
            ArrayObject *object = &arrays[array.v];
            if (index.v < 0 || (uint64_t)index.v >= object->length) RUNTIME_ERROR();
            stack[sp - 1] = heap[object->offset + (uint32_t)index.v];
            break;
        }
        case OP_SET_INDEX: {
            Value value = stack[--sp];
            Value index = stack[--sp];
            Value array = stack[sp - 1];
            if (array.type != TYPE_ARRAY || index.type != TYPE_INT) RUNTIME_ERROR();
            ArrayObject *object = &arrays[array.v];
            if (index.v < 0 || (uint64_t)index.v >= object->length) RUNTIME_ERROR();
            heap[object->offset + (uint32_t)index.v] = value;
            stack[sp - 1] = value;
            break;
        }
        case OP_ADD: BINARY_INT(wrap_add(x, y)); break;
        case OP_SUB: BINARY_INT(wrap_sub(x, y)); break;
        case OP_MUL: BINARY_INT(wrap_mul(x, y)); break;
        case OP_DIV: {
            Value b = stack[sp - 1];
            if (b.type == TYPE_INT && b.v == 0) RUNTIME_ERROR();
            BINARY_INT(checked_div(x, y));
            break;
        }
        case OP_REM: {
            Value b = stack[sp - 1];
            if (b.type == TYPE_INT && b.v == 0) RUNTIME_ERROR();
            BINARY_INT(checked_rem(x, y));
            break;
        }
        case OP_AND: BINARY_INT(x & y); break;
        case OP_OR: BINARY_INT(x | y); break;
        case OP_XOR: BINARY_INT(x ^ y); break;
        case OP_SHL: BINARY_INT(shift_left(x, y)); break;
        case OP_SHR: BINARY_INT(shift_right(x, y)); break;
        case OP_LT: BINARY_INT(x < y); break;
        case OP_LE: BINARY_INT(x <= y); break;
        case OP_GT: BINARY_INT(x > y); break;
        case OP_GE: BINARY_INT(x >= y); break;
        case OP_ADD_INT: {
            Value *a = &stack[sp - 1];
            if (a->type != TYPE_INT) RUNTIME_ERROR();
            a->v = wrap_add(a->v, read_i32(&code[pc]));
            pc += 4;
            break;
        }
        case OP_EQ: {
            Value b = stack[--sp];
            stack[sp - 1] = make_int(values_equal(stack[sp - 1], b));
            break;
        }
        case OP_NE: {
            Value b = stack[--sp];
            stack[sp - 1] = make_int(!values_equal(stack[sp - 1], b));
            break;
        }
        case OP_NEG:
            if (stack[sp - 1].type != TYPE_INT) RUNTIME_ERROR();
            stack[sp - 1].v = wrap_neg(stack[sp - 1].v);
            break;
        case OP_NOT:
            stack[sp - 1] = make_int(!truthy(stack[sp - 1]));
            break;
        case OP_BITNOT:
            if (stack[sp - 1].type != TYPE_INT) RUNTIME_ERROR();
            stack[sp - 1].v = ~stack[sp - 1].v;
            break;
        case OP_JUMP:
            pc += 4 + read_i32(&code[pc]);
            break;
        case OP_JUMP_IF_FALSE:
            if (!truthy(stack[--sp])) {
                pc += 4 + read_i32(&code[pc]);
            } else {
                pc += 4;
            }
            break;
        case OP_JUMP_IF_TRUE:
            if (truthy(stack[--sp])) {
                pc += 4 + read_i32(&code[pc]);
            } else {
                pc += 4;
            }
            break;
        case OP_JUMP_IF_FALSE_KEEP:
            if (!truthy(stack[sp - 1])) {
                pc += 4 + read_i32(&code[pc]);
            } else {
                sp--;
                pc += 4;
            }
            break;
        case OP_JUMP_IF_TRUE_KEEP:
            if (truthy(stack[sp - 1])) {
                pc += 4 + read_i32(&code[pc]);
            } else {
                sp--;
                pc += 4;
            }
            break;
        case OP_LT_JUMP_IF_FALSE: {
            Value b = stack[--sp];
            Value a = stack[--sp];
            if (a.type != TYPE_INT || b.type != TYPE_INT) RUNTIME_ERROR();
            if (!(a.v < b.v)) {
                pc += 4 + read_i32(&code[pc]);
            } else {
                pc += 4;
            }
            break;
        }
        case OP_CALL: {
            argc = code[pc++];
        do_call:;
            Value called = stack[sp - argc - 1];
            if (called.type == TYPE_BUILTIN) {
                Value result = call_builtin((Builtin)called.v, &stack[sp - argc], argc, instruction);
                if (failed) {
                    return nil_value();
                }
                sp -= argc;
                stack[sp - 1] = result;
                break;
            }
            if (called.type != TYPE_FUNCTION) RUNTIME_ERROR();
            Function *function = &functions[called.v];
            if (argc != function->parameters || frame_count >= MAX_FRAMES) RUNTIME_ERROR();
            CHECK_STACK(function->locals - argc + 16);
            frames[frame_count].return_pc = pc;
            frames[frame_count].base = base;
            frame_count++;
            base = sp - argc;
            for (int i = argc; i < function->locals; i++) {
                stack[sp++] = nil_value();
            }
            pc = function->entry;
            break;
        }
        case OP_RETURN: {
            Value result = stack[--sp];
            sp = base - 1;
            stack[sp++] = result;
            frame_count--;
            pc = frames[frame_count].return_pc;
            base = frames[frame_count].base;
            if (frame_count == 0) {
                sp = 0;
                return result;
            }
            break;
        }
        case OP_ARRAY: {
            uint16_t count_elements = read_u16(&code[pc]);
            pc += 2;
            /* The elements stay on the stack (rooted) while the array is allocated. */
            int32_t handle = new_array(count_elements, 0);
            if (handle < 0) RUNTIME_ERROR();
            ArrayObject *object = &arrays[handle];
            memcpy(&heap[object->offset], &stack[sp - count_elements],
                   count_elements * sizeof(Value));
            sp -= count_elements;
            CHECK_STACK(1);
            stack[sp++] = make_value(TYPE_ARRAY, handle);
            break;
        }
        case OP_FUNCTION:
            CHECK_STACK(1);
            stack[sp++] = make_value(TYPE_FUNCTION, code[pc++]);
            break;
        case OP_BUILTIN:
            CHECK_STACK(1);
            stack[sp++] = make_value(TYPE_BUILTIN, code[pc++]);
            break;
        case OP_HALT:
        case OP_COUNT:
        default:
            RUNTIME_ERROR();
        }
    }
}

/* ======================================================================================== */
/* A disassembler for the bytecode (used to checksum the compiler's output)                  */
/* ======================================================================================== */

/* Walks the bytecode instruction by instruction, checking that every jump lands on an
 * instruction boundary, and folds the instruction stream into a hash. Returns 0 if the code
 * is malformed (which would be a compiler bug). */
static uint64_t verify_bytecode(void)
{
    static uint8_t is_start[MAX_CODE + 1];
    memset(is_start, 0, (size_t)code_length + 1);
    int pc = 0;
    uint64_t hash = 0;
    while (pc < code_length) {
        is_start[pc] = 1;
        Opcode op = (Opcode)code[pc];
        if (op >= OP_COUNT) {
            return 0;
        }
        hash = bench_mix(hash, op);
        pc += 1 + operand_bytes[op];
    }
    if (pc != code_length) {
        return 0;
    }
    is_start[code_length] = 1;
    pc = 0;
    while (pc < code_length) {
        Opcode op = (Opcode)code[pc];
        int next = pc + 1 + operand_bytes[op];
        switch (op) {
        case OP_JUMP:
        case OP_JUMP_IF_FALSE:
        case OP_JUMP_IF_TRUE:
        case OP_JUMP_IF_FALSE_KEEP:
        case OP_JUMP_IF_TRUE_KEEP:
        case OP_LT_JUMP_IF_FALSE: {
            int target = next + read_i32(&code[pc + 1]);
            if (target < 0 || target > code_length || !is_start[target]) {
                return 0;
            }
            hash = bench_mix(hash, (uint64_t)(target - pc));
            break;
        }
        default:
            break;
        }
        pc = next;
    }
    return hash;
}

/* ======================================================================================== */
/* The script                                                                                */
/* ======================================================================================== */

static const char SCRIPT[] =
    "// A pseudo-random generator (a 64-bit LCG; the high bits are the good ones).\n"
    "var seed = 12345;\n"
    "fn random() {\n"
    "    seed = seed * 6364136223846793005 + 1442695040888963407;\n"
    "    return (seed >> 33) & 0x7fffffff;\n"
    "}\n"
    "\n"
    "fn fib(n) {\n"
    "    if (n < 2) { return n; }\n"
    "    return fib(n - 1) + fib(n - 2);\n"
    "}\n"
    "\n"
    "fn sieve(limit) {\n"
    "    var composite = array(limit);\n"
    "    var count = 0;\n"
    "    for (var i = 2; i < limit; i += 1) {\n"
    "        if (composite[i]) { continue; }\n"
    "        count += 1;\n"
    "        for (var j = i * i; j < limit; j += i) { composite[j] = 1; }\n"
    "    }\n"
    "    return count;\n"
    "}\n"
    "\n"
    "fn quicksort(a, lo, hi) {\n"
    "    while (lo < hi) {\n"
    "        var pivot = a[(lo + hi) >> 1];\n"
    "        var i = lo;\n"
    "        var j = hi;\n"
    "        while (i <= j) {\n"
    "            while (a[i] < pivot) { i += 1; }\n"
    "            while (a[j] > pivot) { j -= 1; }\n"
    "            if (i <= j) {\n"
    "                var t = a[i]; a[i] = a[j]; a[j] = t;\n"
    "                i += 1; j -= 1;\n"
    "            }\n"
    "        }\n"
    "        if (j - lo < hi - i) { quicksort(a, lo, j); lo = i; }\n"
    "        else { quicksort(a, i, hi); hi = j; }\n"
    "    }\n"
    "}\n"
    "\n"
    "fn sorted_checksum(count) {\n"
    "    var a = [];\n"
    "    for (var i = 0; i < count; i += 1) { push(a, random() % 10000); }\n"
    "    quicksort(a, 0, len(a) - 1);\n"
    "    var h = 0;\n"
    "    for (var i = 0; i < len(a); i += 1) {\n"
    "        if (i > 0) { assert(a[i - 1] <= a[i]); }\n"
    "        h = hash(h, a[i]);\n"
    "    }\n"
    "    return h;\n"
    "}\n"
    "\n"
    "fn place(columns, row, n) {\n"
    "    if (row == n) { return 1; }\n"
    "    var count = 0;\n"
    "    for (var c = 0; c < n; c += 1) {\n"
    "        var ok = true;\n"
    "        for (var r = 0; r < row; r += 1) {\n"
    "            var d = columns[r] - c;\n"
    "            if (d == 0 || d == row - r || d == r - row) { ok = false; break; }\n"
    "        }\n"
    "        if (ok) {\n"
    "            columns[row] = c;\n"
    "            count += place(columns, row + 1, n);\n"
    "        }\n"
    "    }\n"
    "    return count;\n"
    "}\n"
    "\n"
    "fn queens(n) { return place(array(n), 0, n); }\n"
    "\n"
    "fn matrix(n, salt) {\n"
    "    var m = [];\n"
    "    for (var i = 0; i < n; i += 1) {\n"
    "        var row = array(n);\n"
    "        for (var j = 0; j < n; j += 1) { row[j] = (i * 7 + j * 3 + salt) % 17 - 8; }\n"
    "        push(m, row);\n"
    "    }\n"
    "    return m;\n"
    "}\n"
    "\n"
    "fn matmul(a, b) {\n"
    "    var n = len(a);\n"
    "    var c = [];\n"
    "    for (var i = 0; i < n; i += 1) {\n"
    "        var row = array(n);\n"
    "        var ai = a[i];\n"
    "        for (var k = 0; k < n; k += 1) {\n"
    "            var x = ai[k];\n"
    "            var bk = b[k];\n"
    "            for (var j = 0; j < n; j += 1) { row[j] += x * bk[j]; }\n"
    "        }\n"
    "        push(c, row);\n"
    "    }\n"
    "    return c;\n"
    "}\n"
    "\n"
    "fn trace(m) {\n"
    "    var t = 0;\n"
    "    for (var i = 0; i < len(m); i += 1) { t += m[i][i]; }\n"
    "    return t;\n"
    "}\n"
    "\n"
    "fn collatz(limit) {\n"
    "    var best = 0;\n"
    "    var best_start = 0;\n"
    "    for (var start = 1; start < limit; start += 1) {\n"
    "        var x = start;\n"
    "        var steps = 0;\n"
    "        while (x != 1) {\n"
    "            x = x % 2 == 0 ? x / 2 : 3 * x + 1;\n"
    "            steps += 1;\n"
    "        }\n"
    "        if (steps > best) { best = steps; best_start = start; }\n"
    "    }\n"
    "    return best * 100000 + best_start;\n"
    "}\n"
    "\n"
    "// A tiny stack machine, interpreted by the script: an interpreter in an interpreter.\n"
    "// 0 halt, 1 push k, 2 add, 3 sub, 4 mul, 5 dup, 6 swap, 7 jump-if-nonzero t, 8 drop,\n"
    "// 9 over\n"
    "fn machine(program, input) {\n"
    "    var stack = [input];\n"
    "    var pc = 0;\n"
    "    var steps = 0;\n"
    "    while (true) {\n"
    "        var op = program[pc];\n"
    "        steps += 1;\n"
    "        if (op == 0) { break; }\n"
    "        if (op == 1) { push(stack, program[pc + 1]); pc += 2; continue; }\n"
    "        if (op == 2) { var b = pop(stack); push(stack, pop(stack) + b); }\n"
    "        else if (op == 3) { var b = pop(stack); push(stack, pop(stack) - b); }\n"
    "        else if (op == 4) { var b = pop(stack); push(stack, pop(stack) * b); }\n"
    "        else if (op == 5) { var a = pop(stack); push(stack, a); push(stack, a); }\n"
    "        else if (op == 6) { var b = pop(stack); var a = pop(stack); push(stack, b); push(stack, a); }\n"
    "        else if (op == 7) {\n"
    "            if (pop(stack) != 0) { pc = program[pc + 1]; continue; }\n"
    "            pc += 2; continue;\n"
    "        }\n"
    "        else if (op == 8) { pop(stack); }\n"
    "        else if (op == 9) { var b = pop(stack); var a = pop(stack); push(stack, a); push(stack, b); push(stack, a); }\n"
    "        pc += 1;\n"
    "    }\n"
    "    return hash(pop(stack), steps);\n"
    "}\n"
    "\n"
    "// sum = 0; do { sum = sum + n * n; n = n - 1; } while (n); as stack code on [n sum]:\n"
    "// push 0; L: over dup mul add swap push 1 sub swap over jnz L; swap drop halt\n"
    "var SUM_OF_SQUARES = [1, 0, 9, 5, 4, 2, 6, 1, 1, 3, 6, 9, 7, 2, 6, 8, 0];\n"
    "\n"
    "fn bits(x) {\n"
    "    var count = 0;\n"
    "    while (x != 0) { x &= x - 1; count += 1; }\n"
    "    return count;\n"
    "}\n"
    "\n"
    "fn mix_bits(rounds) {\n"
    "    var h = 0x0123456789abcdef;\n"
    "    for (var i = 0; i < rounds; i += 1) {\n"
    "        h ^= h << 13; h ^= h >> 7; h ^= h << 17;\n"
    "        h += bits(h) * (i | 1);\n"
    "        h = (h << 1) | ((h >> 63) & 1);\n"
    "    }\n"
    "    return h;\n"
    "}\n"
    "\n"
    "fn main(n) {\n"
    "    var h = 0;\n"
    "    assert(queens(6) == 4);\n"
    "    assert(fib(10) == 55);\n"
    "    assert(sieve(100) == 25);\n"
    "    assert(-7 / 2 == -3 && -7 % 2 == -1);\n"
    "    for (var round = 0; round < n; round += 1) {\n"
    "        h = hash(h, fib(12 + round % 5));\n"
    "        h = hash(h, sieve(3000 + round * 37 % 1000));\n"
    "        h = hash(h, sorted_checksum(200 + round % 100));\n"
    "        if (round % 4 == 0) { h = hash(h, queens(5 + round % 3)); }\n"
    "        var m = matmul(matrix(8, round), matrix(8, round + 1));\n"
    "        h = hash(h, trace(m));\n"
    "        h = hash(h, collatz(150 + round % 50));\n"
    "        h = hash(h, machine(SUM_OF_SQUARES, 20 + round % 10));\n"
    "        h = hash(h, mix_bits(64));\n"
    "        h = hash(h, round < 3 ? 1 : round % 3 == 0 || round % 5 == 0 ? 2 : 3);\n"
    "    }\n"
    "    return h;\n"
    "}\n";

/* ======================================================================================== */
/* Entry point                                                                               */
/* ======================================================================================== */

/* Compiles SCRIPT and runs main(n). Everything is reset first, so every call is a complete
 * load-compile-run of the script. */
PVM_EXPORT(uint64_t, bench_minilang, uint64_t, n)
{
    failed = 0;
    error_code = 0;
    node_count = 0;
    folded_constants = 0;
    instructions_executed = 0;
    names_reset();
    heap_reset();

    lex(SCRIPT);
    if (failed) {
        return error_code;
    }
    int program = parse_program();
    if (failed) {
        return error_code;
    }
    for (int item = program; item >= 0; item = nodes[item].next) {
        fold(item);
    }
    if (!compile_program(program)) {
        return error_code;
    }
    uint64_t code_hash = verify_bytecode();
    if (code_hash == 0) {
        fail(ERROR_COMPILE, 99999);
        return error_code;
    }
    for (int i = 0; i < MAX_GLOBALS; i++) {
        globals[i] = nil_value();
    }
    vm_call(make_value(TYPE_FUNCTION, 0), NULL, 0);
    if (failed) {
        return error_code;
    }
    int main_global = -1;
    for (int i = 0; i < global_count; i++) {
        if (text_equals(name_text[global_names[i]], name_length[global_names[i]], "main")) {
            main_global = i;
        }
    }
    if (main_global < 0) {
        fail(ERROR_COMPILE, 0);
        return error_code;
    }
    Value argument = make_int((int64_t)n);
    Value result = vm_call(globals[main_global], &argument, 1);
    if (failed) {
        return error_code;
    }
    uint64_t hash = bench_mix(code_hash, (uint64_t)result.v);
    hash = bench_mix(hash, (uint64_t)folded_constants);
    hash = bench_mix(hash, (uint64_t)peephole_fusions);
    hash = bench_mix(hash, instructions_executed);
    return bench_mix(hash, gc_count);
}
