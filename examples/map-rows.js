// For `burn batch`: the script gets an array of rows (one chunk) and returns an array.
const transform = (r) => ({id: r.id, name: String(r.name).toUpperCase(), score: r.x * 2 + (r.tags ?? []).length})
module.exports = (rows) => rows.map(transform)
