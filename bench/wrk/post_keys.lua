-- POST one body, rotating through many member keys (one per line in a file).
-- args: <body file> <auth header name> <keys file> [prefix for the value, e.g. "Bearer "]
local report = require("report")
local keys = {}
local n = 0
local i = 0
local header = "authorization"
local prefix = ""

function init(args)
  local f = assert(io.open(args[1], "rb"))
  wrk.body = f:read("*a")
  f:close()
  wrk.method = "POST"
  wrk.headers["content-type"] = "application/json"
  header = args[2]
  prefix = args[4] or ""
  for line in io.lines(args[3]) do
    if #line > 0 then n = n + 1; keys[n] = line end
  end
  i = math.random(n) - 1
end

function request()
  i = (i % n) + 1
  wrk.headers[header] = prefix .. keys[i]
  return wrk.format()
end

done = report.done
