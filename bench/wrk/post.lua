-- POST one body with one key, as fast as wrk can; prints a JSON summary line.
-- args: <body file> <auth header name> <auth value> [extra header name] [extra header value]
local report = require("report")

function init(args)
  local f = assert(io.open(args[1], "rb"))
  wrk.body = f:read("*a")
  f:close()
  wrk.method = "POST"
  wrk.headers["content-type"] = "application/json"
  wrk.headers[args[2]] = args[3]
  if args[4] then wrk.headers[args[4]] = args[5] end
end

done = report.done
